// {{name}}: an authorizer. A principal named `User:<tenant>.<name>` may use
// the topics and groups whose names start with `<tenant>.`, and none of
// another tenant's; everything else (the cluster, principals without a
// tenant) is left to the ACLs. Change `authorizeOne` to your own rule.

function authorizeOne(client, action) {
  const name = client.principal.startsWith("User:") ? client.principal.slice(5) : "";
  const dot = name.indexOf(".");
  if (dot <= 0) return "defer";
  const tenant = name.slice(0, dot);
  if (action.resourceType === "topic" || action.resourceType === "group") {
    return action.name.startsWith(tenant + ".") ? "allow" : "deny";
  }
  return "defer";
}

export function authorize(client, actions) {
  return actions.map((action) => authorizeOne(client, action));
}
