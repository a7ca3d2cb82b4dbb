// {{name}}: a produce interceptor. It stamps every record with the header
// `stamped-by: {{name}}` (the value can be changed with the config key
// `stamp`) and refuses batches holding an empty value. Change `intercept`
// to your own rule.
import { Batch, Rewrite, Verdict, config, rejectRecord } from "../.weir/sdk/assemblyscript/weir";

export function intercept(batch: Batch): Verdict {
  const configured = config("stamp");
  const stamp = configured !== null ? configured : "{{name}}";
  const out = new Rewrite();
  let empty = 0;
  for (let i = 0; i < batch.length; i++) {
    const record = batch.record(i);
    if (record.valueLength == 0) {
      // Named, so the producer sees which records were refused, and why.
      rejectRecord(i, "empty value");
      empty++;
      continue;
    }
    out.keep(record).addHeaderString("stamped-by", stamp);
  }
  if (empty > 0) return Verdict.reject(`${empty} record(s) have an empty value`);
  return Verdict.rewrite(out);
}
