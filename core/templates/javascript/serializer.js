// {{name}}: a serializer for a custom format, CSV lines. A schema is a JSON
// document registered with schemaType JSON that names the columns,
// {"title": "orders", "columns": ["id", "customer", "total"]}; a payload is
// valid when it is one UTF-8 line with exactly that many comma-separated
// fields, and decodes to a JSON object of those columns
// ({"id": "7", "customer": "c7", "total": "10"}, every field a string), which
// is what other plugins' typed access (host.field) reads. Change `check`,
// `decodeLine` and `encodeLine` to your own format's.

const utf8 = new TextDecoder("utf-8", { fatal: true });

function check(columns, payload) {
  let line;
  try {
    line = utf8.decode(payload);
  } catch {
    return "not UTF-8";
  }
  if (line.includes("\n")) return "more than one line";
  const fields = line.split(",").length;
  return fields === columns ? undefined : `${fields} fields, the schema has ${columns} columns`;
}

function columnsOf(schema) {
  let columns;
  try {
    columns = JSON.parse(schema.text).columns.map(String);
  } catch {
    throw `schema ${schema.id} names no "columns"`;
  }
  return columns;
}

function each(payloads) {
  const { data, bounds } = payloads;
  const out = [];
  for (let i = 0; i < bounds.length; i += 2) {
    out.push(data.subarray(bounds[i], bounds[i] + bounds[i + 1]));
  }
  return out;
}

function decodeLine(columns, payload) {
  if (check(columns.length, payload) !== undefined) return undefined;
  const fields = utf8.decode(payload).split(",");
  return JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, fields[i]])));
}

function encodeLine(columns, text) {
  let row;
  try {
    row = JSON.parse(utf8.decode(text));
  } catch (e) {
    return { tag: "err", val: `not JSON: ${e}` };
  }
  const fields = [];
  for (const name of columns) {
    if (row === null || typeof row !== "object" || !(name in row)) {
      return { tag: "err", val: `no column ${name}` };
    }
    const f = typeof row[name] === "string" ? row[name] : JSON.stringify(row[name]);
    if (f.includes(",") || f.includes("\n")) {
      return { tag: "err", val: `column ${name} holds a comma or a newline` };
    }
    fields.push(f);
  }
  return { tag: "ok", val: new TextEncoder().encode(fields.join(",")) };
}

export function validate(schema, payloads) {
  const columns = columnsOf(schema).length;
  return each(payloads).map((p) => check(columns, p));
}

export function decode(schema, payloads) {
  const columns = columnsOf(schema);
  const encoder = new TextEncoder();
  const parts = [];
  const bounds = [];
  let length = 0;
  for (const p of each(payloads)) {
    const text = decodeLine(columns, p);
    if (text === undefined) {
      bounds.push(length, 0xffffffff);
      continue;
    }
    const bytes = encoder.encode(text);
    bounds.push(length, bytes.length);
    parts.push(bytes);
    length += bytes.length;
  }
  const data = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  return { data, bounds: new Uint32Array(bounds) };
}

export function encode(schema, like, json) {
  const columns = columnsOf(schema);
  return each(json).map((text) => encodeLine(columns, text));
}
