"""{{name}}: an authorizer. A principal named `User:<tenant>.<name>` may use
the topics and groups whose names start with `<tenant>.`, and none of
another tenant's; everything else (the cluster, principals without a
tenant) is left to the ACLs. Change `authorize_one` to your own rule."""

import wit_world
from wit_world import Decision, ResourceType


def authorize_one(client, action):
    name = client.principal[len("User:"):] if client.principal.startswith("User:") else ""
    if "." not in name:
        return Decision.DEFER
    tenant = name.split(".", 1)[0]
    if action.resource_type in (ResourceType.TOPIC, ResourceType.GROUP):
        return Decision.ALLOW if action.name.startswith(tenant + ".") else Decision.DENY
    return Decision.DEFER


class WitWorld(wit_world.WitWorld):
    def authorize(self, client, actions):
        return [authorize_one(client, a) for a in actions]
