"""{{name}}: an authenticator. It checks SASL/PLAIN passwords against its
own store — here the config values `user.<name>` (replace them with your
directory, or hashes) — and names the principal `User:<name>`. Users it
does not know, and other mechanisms, are left to the broker."""

import wit_world
from wit_world.imports import host


class WitWorld(wit_world.WitWorld):
    def authenticate(self, client, credentials):
        if credentials.mechanism != "PLAIN":
            return wit_world.Outcome_Defer()
        password = host.config("user." + credentials.username)
        if password is None:
            return wit_world.Outcome_Defer()
        if password.encode() == bytes(credentials.secret):
            return wit_world.Outcome_Accept(wit_world.Authenticated("User:" + credentials.username, None))
        return wit_world.Outcome_Refuse("Invalid username or password")
