"""{{name}}: a produce interceptor. It stamps every record with the header
`stamped-by: {{name}}` (the value can be changed with the config key
`stamp`) and refuses batches holding an empty value. Change `intercept` to
your own rule."""

import wit_world
from wit_world.imports import host
from weir_plugin import Batch, Rewrite


class WitWorld(wit_world.WitWorld):
    def intercept(self, batch):
        stamp = (host.config("stamp") or "{{name}}").encode()
        out = Rewrite()
        empty = 0
        for i, record in enumerate(Batch(batch).records()):
            if record.value == b"":
                # Named, so the producer sees which records were refused, and why.
                host.reject_record(i, "empty value")
                empty += 1
                continue
            out.push(i, record, headers=record.headers + [("stamped-by", stamp)])
        if empty:
            return wit_world.Verdict_Reject("%d record(s) have an empty value" % empty)
        return wit_world.Verdict_Rewrite(out.to_wit())
