// {{name}}: a serializer for a custom format, CSV lines. A schema is a JSON
// document registered with schemaType JSON that names the columns,
// {"title": "orders", "columns": ["id", "customer", "total"]}; a payload is
// valid when it is one UTF-8 line with exactly that many comma-separated
// fields. Change `check` to your own format's rules.

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

export function validate(schema, payloads) {
  let columns;
  try {
    columns = JSON.parse(schema.text).columns.length;
  } catch {
    throw `schema ${schema.id} names no "columns"`;
  }
  const { data, bounds } = payloads;
  const answers = [];
  for (let i = 0; i < bounds.length; i += 2) {
    answers.push(check(columns, data.subarray(bounds[i], bounds[i] + bounds[i + 1])));
  }
  return answers;
}
