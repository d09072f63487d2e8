/*
 * groups.c - lookups over the in-memory enrollment groups (groups.h).
 */
#include "central/hub/groups.h"
#include "central/hub/x509.h"

#include <stdlib.h>
#include <string.h>

struct egroup *egroups_find(const struct app *app, const char *id)
{
    for (struct egroup *g = app->groups ? app->groups->head : NULL; g != NULL; g = g->next) {
        if (strcmp(g->id, id) == 0)
            return g;
    }
    return NULL;
}

static void keys_of(const struct egroup *g, struct egroup_keys *out)
{
    out->id = g->id;
    out->primary_key = g->primary_key;
    out->secondary_key = g->secondary_key;
    out->serial = g->serial;
}

size_t egroups_sas_keys(const struct app *app, struct egroup_keys *out, size_t cap)
{
    size_t n = 0;
    if (app->groups == NULL) {
        if (cap == 0)
            return 0;
        out[0] = (struct egroup_keys){app->facts.group_id, app->facts.group_primary_key,
                                      app->facts.group_secondary_key, 0};
        return 1;
    }
    for (const struct egroup *g = app->groups->head; g != NULL && n < cap; g = g->next) {
        if (g->enabled && g->attestation == EGROUP_SYMMETRIC_KEY)
            keys_of(g, &out[n++]);
    }
    return n;
}

bool egroups_keys_by_serial(const struct app *app, uint32_t serial, struct egroup_keys *out)
{
    if (app->groups == NULL) {
        if (serial != 0)
            return false;
        return egroups_sas_keys(app, out, 1) == 1;
    }
    for (const struct egroup *g = app->groups->head; g != NULL; g = g->next) {
        if (g->serial == serial && g->enabled && g->attestation == EGROUP_SYMMETRIC_KEY) {
            keys_of(g, out);
            return true;
        }
    }
    return false;
}

const struct egroup *egroups_enabled_by_serial(const struct app *app, uint32_t serial)
{
    for (const struct egroup *g = app->groups ? app->groups->head : NULL; g != NULL; g = g->next)
        if (g->serial == serial && g->enabled)
            return g;
    return NULL;
}

void egroups_cert_match(struct app *app, struct x509_st *leaf, struct stack_st_X509 *untrusted,
                        struct auth_cert *cert)
{
    cert->group = AUTH_GROUP_NONE;
    cert->group_serial = 0;
    for (const struct egroup *g = app->groups ? app->groups->head : NULL; g != NULL; g = g->next) {
        if (g->attestation != EGROUP_X509)
            continue;
        for (int slot = 0; slot < 2; slot++) {
            char name[X509_CA_KEY_MAX + 1];
            if (x509_group_ca_name(g->id, slot == 1, name) < 0)
                continue;
            enum auth_chain ch = x509_ca_chain_to(app, name, leaf, untrusted);
            if (ch == AUTH_CHAIN_UNKNOWN)
                continue;
            if (!g->enabled) {
                if (cert->group == AUTH_GROUP_NONE)
                    cert->group = AUTH_GROUP_DISABLED;
            } else if (ch == AUTH_CHAIN_VERIFIED) {
                cert->group = AUTH_GROUP_VERIFIED;
                cert->group_serial = g->serial;
                return;
            } else {
                cert->group = AUTH_GROUP_UNVERIFIED;
            }
        }
    }
}

void egroups_free(struct app *app)
{
    if (app->groups == NULL)
        return;
    struct egroup *g = app->groups->head;
    while (g != NULL) {
        struct egroup *next = g->next;
        free(g->display_name);
        free(g);
        g = next;
    }
    free(app->groups);
    app->groups = NULL;
}
