//! {{name}}: an authenticator. It checks SASL/PLAIN passwords against its
//! own store — here the config values `user.<name>` (replace them with your
//! directory, or hashes) — and names the principal `User:<name>`. Users it
//! does not know, and other mechanisms, are left to the broker.
//!
//! `weir` is the C SDK (.weir/sdk/c) translated to Zig by `weir plugin build`.
const std = @import("std");
const weir = @import("weir");

export fn exports_authenticator_authenticate(
    client: *weir.authenticator_client_t,
    credentials: *weir.authenticator_credentials_t,
    ret: *weir.authenticator_outcome_t,
) void {
    defer weir.authenticator_client_free(client);
    defer weir.authenticator_credentials_free(credentials);
    ret.tag = weir.AUTHENTICATOR_OUTCOME_DEFER;
    const mechanism = credentials.mechanism.ptr[0..credentials.mechanism.len];
    if (!std.mem.eql(u8, mechanism, "PLAIN")) return;
    const user = credentials.username.ptr[0..credentials.username.len];
    const key_text: [*]u8 = @ptrCast(weir.malloc(user.len + 5));
    defer weir.free(key_text);
    @memcpy(key_text[0..5], "user.");
    @memcpy(key_text[5 .. 5 + user.len], user);
    var key = weir.authenticator_string_t{ .ptr = key_text, .len = user.len + 5 };
    var password: weir.authenticator_string_t = undefined;
    if (!weir.weir_plugin_host_config(&key, &password)) return;
    defer weir.authenticator_string_free(&password);
    const secret = credentials.secret.ptr[0..credentials.secret.len];
    if (std.mem.eql(u8, password.ptr[0..password.len], secret)) {
        const principal: [*]u8 = @ptrCast(weir.malloc(user.len + 5));
        @memcpy(principal[0..5], "User:");
        @memcpy(principal[5 .. 5 + user.len], user);
        ret.tag = weir.AUTHENTICATOR_OUTCOME_ACCEPT;
        ret.val.accept.principal = .{ .ptr = principal, .len = user.len + 5 };
        ret.val.accept.lifetime_ms.is_some = false;
    } else {
        ret.tag = weir.AUTHENTICATOR_OUTCOME_REFUSE;
        weir.authenticator_string_dup(&ret.val.refuse, "Invalid username or password");
    }
}
