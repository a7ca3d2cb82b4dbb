"""{{name}}: a compaction policy. It keeps the newest `n` records of each key
(the config value `n`, default 2) instead of only the latest; a tombstone
older than delete.retention.ms goes, as in Kafka; records without a key
stay. Change `keep` to your own rule."""

import wit_world
from wit_world.imports import host
from weir_plugin import Batch


class WitWorld(wit_world.WitWorld):
    def keep(self, batch):
        n = int(host.config("n") or 2)
        horizon = batch.now_ms - batch.delete_retention_ms
        c = batch.candidates
        keep = []
        for i, record in enumerate(Batch(batch).records()):
            expired_tombstone = record.value is None and record.timestamp < horizon
            keep.append(c.latest_offsets[i] < 0 or (c.newer[i] < n and not expired_tombstone))
        return keep
