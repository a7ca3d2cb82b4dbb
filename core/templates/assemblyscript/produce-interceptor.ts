// {{name}}: a produce interceptor. It stamps every record with the header
// `stamped-by: {{name}}` (the value can be changed with the config key
// `stamp`) and refuses batches holding an empty value. Change `intercept`
// to your own rule.
import { Batch, Rewrite, Verdict, config } from "../.weir/sdk/assemblyscript/weir";

export function intercept(batch: Batch): Verdict {
  const configured = config("stamp");
  const stamp = configured !== null ? configured : "{{name}}";
  const out = new Rewrite();
  for (let i = 0; i < batch.length; i++) {
    const record = batch.record(i);
    if (record.valueLength == 0) return Verdict.reject(`record ${i} has an empty value`);
    out.keep(record).addHeaderString("stamped-by", stamp);
  }
  return Verdict.rewrite(out);
}
