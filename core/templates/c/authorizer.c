/*
 * {{name}}: an authorizer. A principal named `User:<tenant>.<name>` may use
 * the topics and groups whose names start with `<tenant>.`, and none of
 * another tenant's; everything else (the cluster, principals without a
 * tenant) is left to the ACLs. Change authorize_one to your own rule.
 */
#include <stdlib.h>
#include <string.h>

#include "authorizer.h"
#include "weir_plugin.h"

static authorizer_decision_t authorize_one(const authorizer_client_t *client, const authorizer_action_t *action) {
    const char *user = "User:";
    size_t user_len = strlen(user);
    const uint8_t *principal = client->principal.ptr;
    size_t len = client->principal.len;
    if (len <= user_len || memcmp(principal, user, user_len) != 0) return AUTHORIZER_DECISION_DEFER;
    const uint8_t *name = principal + user_len;
    const uint8_t *dot = memchr(name, '.', len - user_len);
    if (dot == NULL || dot == name) return AUTHORIZER_DECISION_DEFER;
    size_t prefix = (size_t)(dot - name) + 1; /* "<tenant>." */
    if (action->resource_type == AUTHORIZER_RESOURCE_TYPE_TOPIC ||
        action->resource_type == AUTHORIZER_RESOURCE_TYPE_GROUP) {
        bool own = action->name.len >= prefix && memcmp(action->name.ptr, name, prefix) == 0;
        return own ? AUTHORIZER_DECISION_ALLOW : AUTHORIZER_DECISION_DENY;
    }
    return AUTHORIZER_DECISION_DEFER;
}

void exports_authorizer_authorize(authorizer_client_t *client, authorizer_list_action_t *actions,
                                  authorizer_list_decision_t *ret) {
    ret->len = actions->len;
    ret->ptr = malloc(actions->len ? actions->len : 1);
    for (size_t i = 0; i < actions->len; i++) ret->ptr[i] = authorize_one(client, &actions->ptr[i]);
    authorizer_client_free(client);
    authorizer_list_action_free(actions);
}
