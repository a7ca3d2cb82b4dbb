"""Write Weir plugins in Python (built into components by componentize-py).

The broker passes a batch of records packed as one byte buffer plus flat
index words (`packed-records` in wit/weir-plugin.wit, which documents every
type and function). This module reads it as records and builds an
interceptor's answer:

    from weir_plugin import Batch, Rewrite, murmur2

    class WitWorld(wit_world.WitWorld):
        def partition(self, batch):
            batch = Batch(batch)
            return [(murmur2(r.key) & 0x7FFFFFFF) % batch.partition_count
                    for r in batch.records()]

`wit_world` (generated from the WIT by componentize-py when the plugin is
built) holds the world's types: `wit_world.Verdict_Accept()`,
`wit_world.Verdict_Rewrite(rewrite.to_wit())`, `wit_world.Verdict_Reject(msg)`,
and `wit_world.imports.host` the broker's `log`, `config` and `now_ms`.
"""

from typing import Iterator, List, Optional, Tuple

RECORD_WORDS = 6
HEADER_WORDS = 4
NULL = 0xFFFFFFFF


class Record:
    """One record of a batch: key and value are bytes, or None for null."""

    __slots__ = ("key", "value", "timestamp", "headers")

    def __init__(self, key, value, timestamp, headers):
        self.key: Optional[bytes] = key
        self.value: Optional[bytes] = value
        self.timestamp: int = timestamp
        self.headers: List[Tuple[str, Optional[bytes]]] = headers

    def header(self, name: str) -> Optional[bytes]:
        """The value of the first header called `name` (None if absent)."""
        for n, v in self.headers:
            if n == name:
                return v
        return None


class Batch:
    """The records of one batch, read from the packed form on demand (a
    record-batch, or a compaction policy's compaction-batch)."""

    def __init__(self, batch):
        self.topic: str = batch.topic
        self.partition: int = batch.partition
        self.partition_count: int = getattr(batch, "partition_count", 0)
        self._packed = batch.records

    def __len__(self) -> int:
        return len(self._packed.timestamps)

    def _slice(self, offset: int, length: int) -> Optional[bytes]:
        if length == NULL:
            return None
        return self._packed.data[offset:offset + length]

    def record(self, i: int) -> Record:
        p = self._packed
        w = p.records[i * RECORD_WORDS:(i + 1) * RECORD_WORDS]
        headers = []
        for h in range(w[4], w[4] + w[5]):
            hw = p.headers[h * HEADER_WORDS:(h + 1) * HEADER_WORDS]
            name = self._slice(hw[0], hw[1]) or b""
            headers.append((name.decode("utf-8", "replace"), self._slice(hw[2], hw[3])))
        return Record(self._slice(w[0], w[1]), self._slice(w[2], w[3]), p.timestamps[i], headers)

    def records(self) -> Iterator[Record]:
        for i in range(len(self)):
            yield self.record(i)

    def keys(self) -> Iterator[Optional[bytes]]:
        """Just the keys (cheaper than whole records, for partitioners)."""
        p = self._packed
        for i in range(len(self)):
            yield self._slice(p.records[i * RECORD_WORDS], p.records[i * RECORD_WORDS + 1])


class Rewrite:
    """An interceptor's answer: the records to keep, each naming the input
    record it replaces (its index, increasing)."""

    def __init__(self):
        self._data = bytearray()
        self._records: List[int] = []
        self._timestamps: List[int] = []
        self._headers: List[int] = []
        self._sources: List[int] = []

    def _put(self, b: Optional[bytes]) -> Tuple[int, int]:
        offset = len(self._data)
        if b is None:
            return offset, NULL
        self._data += b
        return offset, len(b)

    def push(self, source: int, record: Record, key=None, value=None, headers=None, timestamp=None):
        """Keeps input record `source`, with the key, value, headers and
        timestamp given (each defaults to the record's own)."""
        key = record.key if key is None else key
        value = record.value if value is None else value
        headers = record.headers if headers is None else headers
        start = len(self._headers) // HEADER_WORDS
        for name, v in headers:
            self._headers += [*self._put(name.encode()), *self._put(v)]
        self._records += [*self._put(key), *self._put(value), start, len(headers)]
        self._timestamps.append(record.timestamp if timestamp is None else timestamp)
        self._sources.append(source)

    def keep(self, source: int, record: Record):
        """Keeps input record `source` as it is."""
        self.push(source, record)

    def to_wit(self):
        from wit_world.imports import types

        packed = types.PackedRecords(bytes(self._data), self._records, self._timestamps, self._headers)
        return types.Rewritten(packed, self._sources)


def murmur2(data: bytes) -> int:
    """The Java client's murmur2: its partition for a keyed record is
    (murmur2(key) & 0x7FFFFFFF) % partitions."""
    m = 0x5BD1E995
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n = len(data) // 4 * 4
    for i in range(0, n, 4):
        k = (int.from_bytes(data[i:i + 4], "little") * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = len(data) - n
    if rest == 3:
        h ^= data[n + 2] << 16
    if rest >= 2:
        h ^= data[n + 1] << 8
    if rest >= 1:
        h ^= data[n]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    return h ^ (h >> 15)


def crc32(data: bytes) -> int:
    """librdkafka's `consistent` partitioner: crc32(key) % partitions."""
    import zlib

    return zlib.crc32(data) & 0xFFFFFFFF
