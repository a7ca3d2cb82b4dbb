"""{{name}}: a serializer for a custom format, CSV lines. A schema is a JSON
document registered with schemaType JSON that names the columns,
{"title": "orders", "columns": ["id", "customer", "total"]}; a payload is
valid when it is one UTF-8 line with exactly that many comma-separated
fields, and decodes to a JSON object of those columns
({"id": "7", "customer": "c7", "total": "10"}, every field a string), which
is what other plugins' typed access (host.field) reads. Change `check`,
`decode_line` and `encode_line` to your own format's."""

import json

import wit_world


def check(columns, payload):
    try:
        line = payload.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if "\n" in line:
        return "more than one line"
    fields = len(line.split(","))
    if fields != columns:
        return "%d fields, the schema has %d columns" % (fields, columns)
    return None


def decode_line(columns, payload):
    if check(len(columns), payload) is not None:
        return None
    return json.dumps(dict(zip(columns, payload.decode("utf-8").split(","))))


def encode_line(columns, text):
    try:
        row = json.loads(text)
        fields = [row[name] for name in columns]
    except (ValueError, KeyError, TypeError) as e:
        return wit_world.Err("not an object of the columns: %s" % e)
    fields = [f if isinstance(f, str) else json.dumps(f) for f in fields]
    if any("," in f or "\n" in f for f in fields):
        return wit_world.Err("a column holds a comma or a newline")
    return wit_world.Ok(",".join(fields).encode("utf-8"))


def columns_of(schema):
    try:
        return [str(c) for c in json.loads(schema.text)["columns"]]
    except (ValueError, KeyError, TypeError):
        raise wit_world.Err('schema %d names no "columns"' % schema.id)


def each(payloads):
    data, bounds = payloads.data, payloads.bounds
    return [data[bounds[i]:bounds[i] + bounds[i + 1]] for i in range(0, len(bounds), 2)]


class WitWorld(wit_world.WitWorld):
    def validate(self, schema, payloads):
        columns = len(columns_of(schema))
        return [check(columns, p) for p in each(payloads)]

    def decode(self, schema, payloads):
        columns = columns_of(schema)
        data, bounds = bytearray(), []
        for p in each(payloads):
            text = decode_line(columns, p)
            if text is None:
                bounds += [len(data), 0xFFFFFFFF]
            else:
                encoded = text.encode("utf-8")
                bounds += [len(data), len(encoded)]
                data += encoded
        return wit_world.Payloads(data=bytes(data), bounds=bounds)

    def encode(self, schema, like, json_texts):
        columns = columns_of(schema)
        return [encode_line(columns, t) for t in each(json_texts)]
