"""Network namespaces for fault tests: each broker of a cluster runs in its
own namespace, joined to the others (and to the tests, in the root
namespace) by a veth pair on one bridge, so one broker can be cut off from
every other broker, the controllers and the clients at once, and healed.
Needs root (CAP_NET_ADMIN); `available()` says whether this machine allows
it. Addresses are 10.77.N.(10+i) on a bridge at 10.77.N.1, N from the
process id, so parallel runs do not meet; everything is removed on close."""

import os
import subprocess


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def available():
    if os.geteuid() != 0:
        return False
    probe = "weirprobe%d" % os.getpid()
    made = _ip("netns", "add", probe, check=False).returncode == 0
    if made:
        _ip("netns", "del", probe, check=False)
    return made


class Net:
    def __init__(self, size):
        tag = os.getpid() % 100000
        self.subnet = "10.77.%d" % (tag % 250 + 1)
        self.bridge = "bw%d" % tag
        self.namespaces = ["w%dn%d" % (tag, i) for i in range(size)]
        self.links = ["v%dn%d" % (tag, i) for i in range(size)]
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", self.subnet + ".1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i, (ns, link) in enumerate(zip(self.namespaces, self.links)):
            _ip("netns", "add", ns)
            _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", link, "master", self.bridge)
            _ip("link", "set", link, "up")
            _ip("-n", ns, "addr", "add", "%s/24" % self.host(i), "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def host(self, i):
        return "%s.%d" % (self.subnet, 10 + i)

    def wrap(self, i):
        """The command prefix that runs a process in node i's namespace."""
        return ["ip", "netns", "exec", self.namespaces[i]]

    def cut(self, i):
        """Node i can reach nobody and nobody can reach it."""
        _ip("link", "set", self.links[i], "down")

    def heal(self, i):
        _ip("link", "set", self.links[i], "up")

    def close(self):
        for ns in self.namespaces:
            _ip("netns", "del", ns, check=False)
        _ip("link", "del", self.bridge, check=False)
