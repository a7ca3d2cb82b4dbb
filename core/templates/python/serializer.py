"""{{name}}: a serializer for a custom format, CSV lines. A schema is a JSON
document registered with schemaType JSON that names the columns,
{"title": "orders", "columns": ["id", "customer", "total"]}; a payload is
valid when it is one UTF-8 line with exactly that many comma-separated
fields. Change `check` to your own format's rules."""

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


class WitWorld(wit_world.WitWorld):
    def validate(self, schema, payloads):
        try:
            columns = len(json.loads(schema.text)["columns"])
        except (ValueError, KeyError, TypeError):
            raise wit_world.Err('schema %d names no "columns"' % schema.id)
        data, bounds = payloads.data, payloads.bounds
        return [check(columns, data[bounds[i]:bounds[i] + bounds[i + 1]])
                for i in range(0, len(bounds), 2)]
