// {{name}}: a retention policy. A segment may go once every consumer group
// reading the topic has committed past it, or once its newest record is
// older than the config value `max-age-ms` (default 7 days), whichever comes
// first. Change `deletable` to your own rule. Offsets and times are BigInts
// (the WIT's s64).
import { config } from "weir:plugin/host@0.1.0";

export function deletable(stats, segments) {
  const maxAge = BigInt(config("max-age-ms") ?? 7 * 24 * 3600000);
  let gone = 0;
  for (const s of segments) {
    const read = stats.committed != null && s.lastOffset < stats.committed;
    const old = s.maxTimestamp < stats.nowMs - maxAge;
    if (!read && !old) break;
    gone++;
  }
  return gone;
}
