// The `serializer` world's exports: `weir plugin build` compiles this file
// as the module's entry; it calls the project's assembly/index.ts once per
// payload: `validate(schema, payload): string | null` (null: valid),
// `decode(schema, payload): string | null` (its JSON, or null) and
// `encode(schema, like, json): Encoded`.

import { decode as pluginDecode, encode as pluginEncode, validate as pluginValidate } from "../../../assembly/index";
import { liftSchema, payloadAt, textOf } from "./schema";
import { RETURN_AREA, endCall, lowerString, returnList } from "./abi";
export { cabi_realloc } from "./abi";

// validate: func(schema: schema, payloads: payloads) -> result<list<option<string>>, string>
// (eleven flat values; an option<string> is 12 bytes: a flag, the string at 4).
export function validate(
  id: i32, typePtr: usize, typeLen: usize, textPtr: usize, textLen: usize, refsPtr: usize, refsLen: usize,
  dataPtr: usize, _dataLen: usize, boundsPtr: usize, boundsLen: usize,
): usize {
  const schema = liftSchema(id, typePtr, typeLen, textPtr, textLen, refsPtr, refsLen);
  const count = boundsLen / 2;
  const answers = changetype<usize>(new ArrayBuffer(<i32>(count * 12)));
  for (let i: usize = 0; i < count; i++) {
    const why = pluginValidate(schema, payloadAt(dataPtr, boundsPtr, i));
    store<u8>(answers + i * 12, why === null ? 0 : 1);
    if (why !== null) lowerString(why, answers + i * 12 + 4);
  }
  return returnList(null, answers, <i32>count);
}

export function cabi_post_validate(_ret: usize): void {
  endCall();
}

// decode: func(schema: schema, payloads: payloads) -> result<payloads, string>
// (the answer's data and bounds at 4 and 12; a bound of 0xffffffff: none).
export function decode(
  id: i32, typePtr: usize, typeLen: usize, textPtr: usize, textLen: usize, refsPtr: usize, refsLen: usize,
  dataPtr: usize, _dataLen: usize, boundsPtr: usize, boundsLen: usize,
): usize {
  const schema = liftSchema(id, typePtr, typeLen, textPtr, textLen, refsPtr, refsLen);
  const count = boundsLen / 2;
  const texts = new Array<ArrayBuffer | null>();
  let size = 0;
  for (let i: usize = 0; i < count; i++) {
    const json = pluginDecode(schema, payloadAt(dataPtr, boundsPtr, i));
    let bytes: ArrayBuffer | null = null;
    if (json !== null) {
      const encoded = String.UTF8.encode(json);
      size += encoded.byteLength;
      bytes = encoded;
    }
    texts.push(bytes);
  }
  const data = changetype<usize>(new ArrayBuffer(size));
  const bounds = changetype<usize>(new ArrayBuffer(<i32>(count * 8)));
  let at: usize = 0;
  for (let i: usize = 0; i < count; i++) {
    const bytes = texts[<i32>i];
    store<u32>(bounds + i * 8, <u32>at);
    if (bytes === null) {
      store<u32>(bounds + i * 8, 0xffffffff, 4);
      continue;
    }
    const len = <usize>bytes.byteLength;
    memory.copy(data + at, changetype<usize>(bytes), len);
    store<u32>(bounds + i * 8, <u32>len, 4);
    at += len;
  }
  store<u8>(RETURN_AREA, 0);
  store<u32>(RETURN_AREA, <u32>data, 4);
  store<u32>(RETURN_AREA, <u32>size, 8);
  store<u32>(RETURN_AREA, <u32>bounds, 12);
  store<u32>(RETURN_AREA, <u32>(count * 2), 16);
  return RETURN_AREA;
}

export function cabi_post_decode(_ret: usize): void {
  endCall();
}

// encode: func(schema: schema, like: payloads, json: payloads)
//   -> result<list<result<list<u8>, string>>, string>
// (fifteen flat values; an answer is 12 bytes: a flag, the bytes or the
// reason at 4).
export function encode(
  id: i32, typePtr: usize, typeLen: usize, textPtr: usize, textLen: usize, refsPtr: usize, refsLen: usize,
  likeDataPtr: usize, _likeDataLen: usize, likeBoundsPtr: usize, _likeBoundsLen: usize,
  jsonDataPtr: usize, _jsonDataLen: usize, jsonBoundsPtr: usize, jsonBoundsLen: usize,
): usize {
  const schema = liftSchema(id, typePtr, typeLen, textPtr, textLen, refsPtr, refsLen);
  const count = jsonBoundsLen / 2;
  const answers = changetype<usize>(new ArrayBuffer(<i32>(count * 12)));
  for (let i: usize = 0; i < count; i++) {
    const like = payloadAt(likeDataPtr, likeBoundsPtr, i);
    const answer = pluginEncode(schema, like, textOf(payloadAt(jsonDataPtr, jsonBoundsPtr, i)));
    const at = answers + i * 12;
    const bytes = answer.bytes;
    if (bytes !== null) {
      store<u8>(at, 0);
      store<u32>(at, <u32>bytes.dataStart, 4);
      store<u32>(at, <u32>bytes.length, 8);
    } else {
      store<u8>(at, 1);
      lowerString(answer.error === null ? "could not encode" : answer.error!, at + 4);
    }
  }
  return returnList(null, answers, <i32>count);
}

export function cabi_post_encode(_ret: usize): void {
  endCall();
}
