"""{{name}}: a compaction policy. It keeps the newest `n` records of each key
(the config value `n`, default 2) instead of only the latest; a tombstone
goes once its batch's delete horizon has passed, as in Kafka; records without a key
stay. Change `keep` to your own rule."""

import wit_world
from wit_world.imports import host
from weir_plugin import Batch


class WitWorld(wit_world.WitWorld):
    def keep(self, batch):
        n = int(host.config("n") or 2)
        # Set by the first clean that kept this batch's tombstones (None before).
        horizon = batch.delete_horizon
        tombstones_expired = horizon is not None and batch.now_ms >= horizon
        c = batch.candidates
        keep = []
        for i, record in enumerate(Batch(batch).records()):
            expired_tombstone = record.value is None and tombstones_expired
            keep.append(c.latest_offsets[i] < 0 or (c.newer[i] < n and not expired_tombstone))
        return keep
