"""{{name}}: a retention policy. A segment may go once every consumer group
reading the topic has committed past it, or once its newest record is older
than the config value `max-age-ms` (default 7 days), whichever comes first.
Change `deletable` to your own rule."""

import wit_world
from wit_world.imports import host


class WitWorld(wit_world.WitWorld):
    def deletable(self, stats, segments):
        max_age = int(host.config("max-age-ms") or 7 * 24 * 3600000)
        gone = 0
        for s in segments:
            read = stats.committed is not None and s.last_offset < stats.committed
            old = s.max_timestamp < stats.now_ms - max_age
            if not (read or old):
                break
            gone += 1
        return gone
