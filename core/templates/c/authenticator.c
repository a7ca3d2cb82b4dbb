/*
 * {{name}}: an authenticator. It checks SASL/PLAIN passwords against its
 * own store — here the config values `user.<name>` (replace them with your
 * directory, or hashes) — and names the principal `User:<name>`. Users it
 * does not know, and other mechanisms, are left to the broker.
 */
#include <stdlib.h>
#include <string.h>

#include "authenticator.h"
#include "weir_plugin.h"

static bool equals(const authenticator_string_t *s, const char *text) {
    return s->len == strlen(text) && memcmp(s->ptr, text, s->len) == 0;
}

void exports_authenticator_authenticate(authenticator_client_t *client, authenticator_credentials_t *credentials,
                                        authenticator_outcome_t *ret) {
    ret->tag = AUTHENTICATOR_OUTCOME_DEFER;
    if (equals(&credentials->mechanism, "PLAIN")) {
        /* The key "user.<name>". */
        size_t n = credentials->username.len;
        char *key_text = malloc(n + 6);
        memcpy(key_text, "user.", 5);
        memcpy(key_text + 5, credentials->username.ptr, n);
        authenticator_string_t key = {(uint8_t *)key_text, n + 5}, password;
        if (weir_plugin_host_config(&key, &password)) {
            if (password.len == credentials->secret.len &&
                memcmp(password.ptr, credentials->secret.ptr, password.len) == 0) {
                ret->tag = AUTHENTICATOR_OUTCOME_ACCEPT;
                char *principal = malloc(n + 5);
                memcpy(principal, "User:", 5);
                memcpy(principal + 5, credentials->username.ptr, n);
                ret->val.accept.principal.ptr = (uint8_t *)principal;
                ret->val.accept.principal.len = n + 5;
                ret->val.accept.lifetime_ms.is_some = false;
            } else {
                ret->tag = AUTHENTICATOR_OUTCOME_REFUSE;
                authenticator_string_dup(&ret->val.refuse, "Invalid username or password");
            }
            authenticator_string_free(&password);
        }
        free(key_text);
    }
    authenticator_client_free(client);
    authenticator_credentials_free(credentials);
}
