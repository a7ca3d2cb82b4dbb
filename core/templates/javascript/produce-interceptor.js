// {{name}}: a produce interceptor. It stamps every record with the header
// `stamped-by: {{name}}` (the value can be changed with the config key
// `stamp`) and refuses batches holding an empty value. Change `intercept` to
// your own rule.
import { config, rejectRecord } from "weir:plugin/host@0.1.0";
import { Batch, Rewrite } from "../.weir/sdk/javascript/weir_plugin.js";

export function intercept(wit) {
  const stamp = config("stamp") ?? "{{name}}";
  const out = new Rewrite();
  let i = 0;
  let empty = 0;
  for (const record of new Batch(wit).records()) {
    if (record.value !== null && record.value.length === 0) {
      // Named, so the producer sees which records were refused, and why.
      rejectRecord(i, "empty value");
      empty++;
    } else {
      out.push(i, record, { headers: [...record.headers, ["stamped-by", stamp]] });
    }
    i++;
  }
  if (empty > 0) return { tag: "reject", val: `${empty} record(s) have an empty value` };
  return { tag: "rewrite", val: out.toWit() };
}
