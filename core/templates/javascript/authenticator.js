// {{name}}: an authenticator. It checks SASL/PLAIN passwords against its
// own store — here the config values `user.<name>` (replace them with your
// directory, or hashes) — and names the principal `User:<name>`. Users it
// does not know, and other mechanisms, are left to the broker.
import { config } from "weir:plugin/host@0.1.0";

const utf8 = new TextDecoder();

export function authenticate(client, credentials) {
  if (credentials.mechanism !== "PLAIN") return { tag: "defer" };
  const password = config("user." + credentials.username);
  if (password == null) return { tag: "defer" };
  if (utf8.decode(credentials.secret) === password) {
    return { tag: "accept", val: { principal: "User:" + credentials.username, lifetimeMs: undefined } };
  }
  return { tag: "refuse", val: "Invalid username or password" };
}
