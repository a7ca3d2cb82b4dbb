// {{name}}: an authenticator. It checks SASL/PLAIN passwords against its
// own store — here the config values `user.<name>` (replace them with your
// directory, or hashes) — and names the principal `User:<name>`. Users it
// does not know, and other mechanisms, are left to the broker.
import { config } from "../.weir/sdk/assemblyscript/weir";
import { Client, Credentials, Outcome } from "../.weir/sdk/assemblyscript/auth";

export function authenticate(client: Client, credentials: Credentials): Outcome {
  if (credentials.mechanism != "PLAIN") return Outcome.defer();
  const password = config("user." + credentials.username);
  if (password === null) return Outcome.defer();
  const presented = String.UTF8.decode(credentials.secret.buffer);
  if (presented == password) return Outcome.accept("User:" + credentials.username);
  return Outcome.refuse("Invalid username or password");
}
