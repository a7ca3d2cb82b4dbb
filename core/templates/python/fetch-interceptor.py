"""{{name}}: a fetch interceptor. Consumers see only the records whose
header `tenant` equals the config value `tenant` (default "acme"); the
others are skipped, offsets kept. Change `intercept` to your own rule."""

import wit_world
from wit_world.imports import host
from weir_plugin import Batch, Rewrite


class WitWorld(wit_world.WitWorld):
    def intercept(self, client_id, batch):
        tenant = (host.config("tenant") or "acme").encode()
        out = Rewrite()
        dropped = False
        for i, record in enumerate(Batch(batch).records()):
            if record.header("tenant") == tenant:
                out.keep(i, record)
            else:
                dropped = True
        return wit_world.Verdict_Rewrite(out.to_wit()) if dropped else wit_world.Verdict_Accept()
