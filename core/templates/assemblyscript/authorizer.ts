// {{name}}: an authorizer. A principal named `User:<tenant>.<name>` may use
// the topics and groups whose names start with `<tenant>.`, and none of
// another tenant's; everything else (the cluster, principals without a
// tenant) is left to the ACLs. Change `authorize` to your own rule.
import { Action, Client, Decision, ResourceType } from "../.weir/sdk/assemblyscript/auth";

export function authorize(client: Client, action: Action): Decision {
  if (!client.principal.startsWith("User:")) return Decision.Defer;
  const name = client.principal.substring(5);
  const dot = name.indexOf(".");
  if (dot <= 0) return Decision.Defer;
  const tenant = name.substring(0, dot + 1); // "<tenant>."
  if (action.resourceType == ResourceType.Topic || action.resourceType == ResourceType.Group) {
    return action.name.startsWith(tenant) ? Decision.Allow : Decision.Deny;
  }
  return Decision.Defer;
}
