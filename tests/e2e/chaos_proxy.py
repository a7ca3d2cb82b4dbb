"""A fault-injecting TCP proxy for tests, on loopback: it forwards a client's
connections to a broker and, at random points in the broker's responses,
cuts the connection (so a request was handled but its answer is lost, and the
client retries it). It runs its own event loop in a thread and stops with the
test."""

import asyncio
import random
import socket
import threading


class ChaosProxy:
    def __init__(self, upstream_port, cut_probability, seed=7):
        self.upstream_port = upstream_port
        self.cut_probability = cut_probability
        self.random = random.Random(seed)
        self.cuts = 0
        self.connections = 0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self.loop)
        for task in tasks:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.close()

    async def _serve(self, client_reader, client_writer):
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return

        async def pump(reader, writer, chaotic):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    if chaotic and self.random.random() < self.cut_probability:
                        # Forward part of the response, then cut both sides.
                        writer.write(data[: self.random.randrange(len(data))])
                        self.cuts += 1
                        break
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                for w in (client_writer, upstream_writer):
                    w.close()

        await asyncio.gather(
            pump(client_reader, upstream_writer, False),
            pump(upstream_reader, client_writer, True),
        )
