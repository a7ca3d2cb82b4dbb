"""{{name}}: a partitioner. Keyed records go where the Java client would
put them (murmur2 of the key); records without a key stay in the partition
the producer chose. Change `partition` to your own rule."""

import wit_world
from weir_plugin import Batch, murmur2


class WitWorld(wit_world.WitWorld):
    def partition(self, batch):
        batch = Batch(batch)
        count = batch.partition_count
        if count == 0:
            raise wit_world.Err("the topic has no partitions")
        addressed = max(batch.partition, 0) % count
        return [addressed if key is None else (murmur2(key) & 0x7FFFFFFF) % count
                for key in batch.keys()]
