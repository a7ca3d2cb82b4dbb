// The types of the `serializer` world for AssemblyScript plugins: the
// registered schema a call is about, and an encode's answer; serializer.ts
// lifts and lowers them.

import { liftString } from "./abi";

/// A schema from the registry, with what it references.
export class Schema {
  constructor(
    /// Its id: the same id is always the same schema.
    public id: i32,
    /// `AVRO`, `PROTOBUF` or `JSON`.
    public schemaType: string,
    /// The schema as registered.
    public text: string,
    /// The names of the schemas it references, transitively…
    public referenceNames: string[],
    /// …and their texts, at the same places.
    public referenceTexts: string[],
  ) {}
}

/// What `encode` answers for one JSON text: the payload, or why not.
export class Encoded {
  constructor(public bytes: Uint8Array | null, public error: string | null) {}

  static ok(bytes: Uint8Array): Encoded {
    return new Encoded(bytes, null);
  }

  static err(why: string): Encoded {
    return new Encoded(null, why);
  }
}

/// The schema record flattened to seven values by the canonical ABI; a
/// reference is two strings (16 bytes).
export function liftSchema(
  id: i32, typePtr: usize, typeLen: usize, textPtr: usize, textLen: usize, refsPtr: usize, refsLen: usize,
): Schema {
  const names = new Array<string>(), texts = new Array<string>();
  for (let i: usize = 0; i < refsLen; i++) {
    const at = refsPtr + i * 16;
    names.push(liftString(load<u32>(at), load<u32>(at, 4)));
    texts.push(liftString(load<u32>(at, 8), load<u32>(at, 12)));
  }
  return new Schema(id, liftString(typePtr, typeLen), liftString(textPtr, textLen), names, texts);
}

/// Payload `i` of a packed `payloads` (copied out of the broker's buffer).
export function payloadAt(dataPtr: usize, boundsPtr: usize, i: usize): Uint8Array {
  const start = load<u32>(boundsPtr + i * 8);
  const len = load<u32>(boundsPtr + i * 8, 4);
  const out = new Uint8Array(<i32>len);
  memory.copy(out.dataStart, dataPtr + start, len);
  return out;
}

/// A payload as text (UTF-8).
export function textOf(payload: Uint8Array): string {
  return String.UTF8.decodeUnsafe(payload.dataStart, payload.length);
}
