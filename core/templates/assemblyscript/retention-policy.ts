// {{name}}: a retention policy. A segment may go once every consumer group
// reading the topic has committed past it, or once its newest record is
// older than the config value `max-age-ms` (default 7 days), whichever comes
// first. Change `deletable` to your own rule.
import { config } from "../.weir/sdk/assemblyscript/weir";
import { Deletable, PartitionStats, Segments } from "../.weir/sdk/assemblyscript/policy";

export function deletable(stats: PartitionStats, segments: Segments): Deletable {
  const configured = config("max-age-ms");
  const maxAge: i64 = configured === null ? 7 * 24 * 3600000 : I64.parseInt(configured);
  let gone: u32 = 0;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    const read = stats.hasCommitted && s.lastOffset < stats.committed;
    const old = s.maxTimestamp < stats.nowMs - maxAge;
    if (!read && !old) break;
    gone++;
  }
  return Deletable.oldest(gone);
}
