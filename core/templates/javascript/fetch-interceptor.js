// {{name}}: a fetch interceptor. Consumers see only the records whose header
// `tenant` equals the config value `tenant` (default "acme"); the others are
// skipped, offsets kept. Change `intercept` to your own rule.
import { config } from "weir:plugin/host@0.1.0";
import { Batch, Rewrite } from "../.weir/sdk/javascript/weir_plugin.js";

const utf8 = new TextDecoder();

export function intercept(clientId, wit) {
  const tenant = config("tenant") ?? "acme";
  const out = new Rewrite();
  let dropped = false;
  let i = 0;
  for (const record of new Batch(wit).records()) {
    const value = record.header("tenant");
    if (value && utf8.decode(value) === tenant) out.keep(i, record);
    else dropped = true;
    i++;
  }
  return dropped ? { tag: "rewrite", val: out.toWit() } : { tag: "accept" };
}
