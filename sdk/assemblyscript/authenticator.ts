// The `authenticator` world's exports: `weir plugin build` compiles this
// file as the module's entry; it calls `authenticate(client: Client,
// credentials: Credentials): Outcome` of the project's assembly/index.ts.

import { authenticate as plugin } from "../../../assembly/index";
import { Credentials, liftClientAt } from "./auth";
import { RETURN_AREA, endCall, liftString, lowerString } from "./abi";
export { cabi_realloc } from "./abi";

// authenticate: func(client: client, credentials: credentials) -> outcome.
// Seventeen flat values are more than the canonical ABI passes directly,
// so the broker writes both records to memory and passes where: the client
// (36 bytes), then the credentials at 36 (mechanism, authorization-id,
// username, secret). The outcome: a tag, then at 8 the principal or the
// refusal, and at 16 the option<s64> lifetime (its value at 24).
export function authenticate(params: usize): usize {
  const client = liftClientAt(params);
  const at = params + 36;
  const secretLen = load<u32>(at, 28);
  const secret = new Uint8Array(<i32>secretLen);
  memory.copy(secret.dataStart, load<u32>(at, 24), secretLen);
  const credentials = new Credentials(
    liftString(load<u32>(at), load<u32>(at, 4)),
    liftString(load<u32>(at, 8), load<u32>(at, 12)),
    liftString(load<u32>(at, 16), load<u32>(at, 20)),
    secret,
  );
  const outcome = plugin(client, credentials);
  store<u8>(RETURN_AREA, outcome.tag);
  if (outcome.tag != 2) lowerString(outcome.text, RETURN_AREA + 8);
  if (outcome.tag == 0) {
    store<u8>(RETURN_AREA, outcome.hasLifetime ? 1 : 0, 16);
    store<i64>(RETURN_AREA, outcome.lifetimeMs, 24);
  }
  return RETURN_AREA;
}

export function cabi_post_authenticate(_ret: usize): void {
  endCall();
}
