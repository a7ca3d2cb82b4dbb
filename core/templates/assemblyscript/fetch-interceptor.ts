// {{name}}: a fetch interceptor. Consumers see only the records whose header
// `tenant` equals the config value `tenant` (default "acme"); the others are
// skipped, offsets kept. Change `intercept` to your own rule.
import { Batch, Rewrite, config } from "../.weir/sdk/assemblyscript/weir";

/** The records to hand the consumer, or null for the batch as it is. */
export function intercept(clientId: string | null, batch: Batch): Rewrite | null {
  const configured = config("tenant");
  const tenant = configured !== null ? configured : "acme";
  const out = new Rewrite();
  for (let i = 0; i < batch.length; i++) {
    const record = batch.record(i);
    if (record.headerString("tenant") == tenant) out.keep(record);
  }
  return out.length == batch.length ? null : out;
}
