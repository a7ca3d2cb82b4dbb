//! {{name}}: an authorizer. A principal named `User:<tenant>.<name>` may use
//! the topics and groups whose names start with `<tenant>.`, and none of
//! another tenant's; everything else (the cluster, principals without a
//! tenant) is left to the ACLs. Change `authorizeOne` to your own rule.
//!
//! `weir` is the C SDK (.weir/sdk/c) translated to Zig by `weir plugin build`.
const std = @import("std");
const weir = @import("weir");

fn authorizeOne(principal: []const u8, action: *const weir.authorizer_action_t) weir.authorizer_decision_t {
    if (!std.mem.startsWith(u8, principal, "User:")) return weir.AUTHORIZER_DECISION_DEFER;
    const name = principal["User:".len..];
    const dot = std.mem.indexOfScalar(u8, name, '.') orelse return weir.AUTHORIZER_DECISION_DEFER;
    if (dot == 0) return weir.AUTHORIZER_DECISION_DEFER;
    const prefix = name[0 .. dot + 1]; // "<tenant>."
    const resource = action.resource_type;
    if (resource == weir.AUTHORIZER_RESOURCE_TYPE_TOPIC or resource == weir.AUTHORIZER_RESOURCE_TYPE_GROUP) {
        const target = action.name.ptr[0..action.name.len];
        return if (std.mem.startsWith(u8, target, prefix)) weir.AUTHORIZER_DECISION_ALLOW else weir.AUTHORIZER_DECISION_DENY;
    }
    return weir.AUTHORIZER_DECISION_DEFER;
}

export fn exports_authorizer_authorize(
    client: *weir.authorizer_client_t,
    actions: *weir.authorizer_list_action_t,
    ret: *weir.authorizer_list_decision_t,
) void {
    defer weir.authorizer_client_free(client);
    defer weir.authorizer_list_action_free(actions);
    const decisions: [*]u8 = @ptrCast(weir.malloc(@max(actions.len, 1)));
    const principal = client.principal.ptr[0..client.principal.len];
    for (actions.ptr[0..actions.len], 0..) |*action, i| decisions[i] = authorizeOne(principal, action);
    ret.ptr = decisions;
    ret.len = actions.len;
}
