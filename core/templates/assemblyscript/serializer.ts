// {{name}}: a serializer for a custom format, CSV lines. A schema is a JSON
// document registered with schemaType JSON that names the columns,
// {"title": "orders", "columns": ["id", "customer", "total"]}; a payload is
// valid when it is one line with exactly that many comma-separated fields,
// and decodes to a JSON object of those columns ({"id":"7","customer":"c7",
// "total":"10"}, every field a string), which is what other plugins' typed
// access (host.field) reads. Change `validate`, `decode` and `encode` to
// your own format's.
import { Encoded, Schema, textOf } from "../.weir/sdk/assemblyscript/schema";

/// The column names the schema lists (a plain scan: a real plugin would
/// parse the JSON).
function columns(schema: Schema): string[] {
  const names = new Array<string>();
  const text = schema.text;
  const at = text.indexOf("\"columns\"");
  if (at < 0) return names;
  const open = text.indexOf("[", at);
  const close = text.indexOf("]", open);
  if (open < 0 || close < 0) return names;
  const parts = text.substring(open + 1, close).split("\"");
  for (let i = 1; i < parts.length; i += 2) names.push(parts[i]);
  return names;
}

/// A JSON string literal.
function quoted(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) out += "\\" + String.fromCharCode(c);
    else if (c < 0x20) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

export function validate(schema: Schema, payload: Uint8Array): string | null {
  const wanted = columns(schema).length;
  if (wanted == 0) return "the schema names no \"columns\"";
  const line = textOf(payload);
  if (line.includes("\n")) return "more than one line";
  const fields = line.split(",").length;
  if (fields == wanted) return null;
  return `${fields} fields, the schema has ${wanted} columns`;
}

export function decode(schema: Schema, payload: Uint8Array): string | null {
  if (validate(schema, payload) !== null) return null;
  const names = columns(schema);
  const fields = textOf(payload).split(",");
  const members = new Array<string>();
  for (let i = 0; i < names.length; i++) members.push(quoted(names[i]) + ":" + quoted(fields[i]));
  return "{" + members.join(",") + "}";
}

/// Member `name` of a flat JSON object: a string's contents (an escaped
/// character taken as written), or a number's text; null when missing.
function member(json: string, name: string): string | null {
  const key = quoted(name);
  let at = json.indexOf(key);
  if (at < 0) return null;
  at += key.length;
  while (at < json.length && (json.charAt(at) == " " || json.charAt(at) == ":")) at++;
  if (json.charAt(at) == "\"") {
    let out = "";
    for (at++; at < json.length && json.charAt(at) != "\""; at++) {
      if (json.charAt(at) == "\\") at++;
      out += json.charAt(at);
    }
    return at < json.length ? out : null;
  }
  let end = at;
  while (end < json.length && json.charAt(end) != "," && json.charAt(end) != "}" && json.charAt(end) != " ") end++;
  return json.substring(at, end);
}

export function encode(schema: Schema, _like: Uint8Array, json: string): Encoded {
  const names = columns(schema);
  const fields = new Array<string>();
  for (let i = 0; i < names.length; i++) {
    const field = member(json, names[i]);
    if (field === null) return Encoded.err("no column " + names[i]);
    if (field.includes(",") || field.includes("\n")) return Encoded.err(`column ${names[i]} holds a comma or a newline`);
    fields.push(field);
  }
  return Encoded.ok(Uint8Array.wrap(String.UTF8.encode(fields.join(","))));
}
