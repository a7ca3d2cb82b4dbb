// The `authorizer` world's exports: `weir plugin build` compiles this file
// as the module's entry; it calls `authorize(client: Client, action:
// Action): Decision` of the project's assembly/index.ts for each action.

import { authorize as plugin } from "../../../assembly/index";
import { Action, Client } from "./auth";
import { RETURN_AREA, endCall, liftString } from "./abi";
export { cabi_realloc } from "./abi";

// authorize: func(client: client, actions: list<action>) -> list<decision>
// (eleven flat values: the client's strings and option; an action is 12
// bytes: operation u8, resource-type u8, name at 4).
export function authorize(
  principalPtr: usize, principalLen: usize, addressPtr: usize, addressLen: usize,
  hasClientId: i32, clientIdPtr: usize, clientIdLen: usize, listenerPtr: usize, listenerLen: usize,
  actionsPtr: usize, actionsLen: usize,
): usize {
  const client = new Client(
    liftString(principalPtr, principalLen), liftString(addressPtr, addressLen),
    hasClientId != 0 ? liftString(clientIdPtr, clientIdLen) : null, liftString(listenerPtr, listenerLen),
  );
  const decisions = new ArrayBuffer(<i32>actionsLen);
  const out = changetype<usize>(decisions);
  for (let i: usize = 0; i < actionsLen; i++) {
    const at = actionsPtr + i * 12;
    const action = new Action(load<u8>(at), load<u8>(at, 1), liftString(load<u32>(at, 4), load<u32>(at, 8)));
    store<u8>(out + i, <u8>plugin(client, action));
  }
  store<u32>(RETURN_AREA, <u32>out);
  store<u32>(RETURN_AREA, <u32>actionsLen, 4);
  return RETURN_AREA;
}

export function cabi_post_authorize(_ret: usize): void {
  endCall();
}
