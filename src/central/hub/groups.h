/*
 * groups.h - the application's DPS enrollment groups, in memory: what DPS authenticates a
 * group registration against (broker.c, broker_dps.c) and what /api/enrollmentGroups shows.
 *
 * The application layer (app/appl_groups.c) loads, changes and persists the list; this module
 * only holds it and answers lookups. The attestation is a tagged field so that X.509 groups
 * (certificates instead of keys) can join as another tag. Until the list is loaded
 * (app->groups NULL, e.g. a broker without the application layer), the one SAS group of
 * app.json (app->facts) stands for it. Loop thread only.
 */
#ifndef CENTRAL_GROUPS_H
#define CENTRAL_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/base/app.h"

#define EGROUP_ID_MAX 128
#define EGROUP_MAX 64      /* groups in one application */
#define EGROUP_KEY_SIZE 96 /* base64 of up to 64 bytes + NUL */

enum egroup_attestation {
    EGROUP_SYMMETRIC_KEY = 0, /* "symmetricKey": device keys derived from the group keys */
    EGROUP_X509 = 1,          /* "x509": devices whose certificate chains to the group's CAs */
};

struct egroup {
    char id[EGROUP_ID_MAX + 1];
    char *display_name; /**< heap, never NULL once built */
    bool enabled;
    bool iot_edge; /**< type "iotEdge" (else "iot") */
    enum egroup_attestation attestation;
    char primary_key[EGROUP_KEY_SIZE]; /**< EGROUP_SYMMETRIC_KEY */
    char secondary_key[EGROUP_KEY_SIZE];
    uint64_t etag;
    uint32_t serial; /**< unique for the process's lifetime: a DPS session names its group by it */
    struct egroup *next;
};

struct egroups {
    struct egroup *head; /**< in creation order */
    size_t count;
    uint32_t next_serial;
};

/** The SAS keys a DPS registration may be derived from (borrowed from the list or the facts). */
struct egroup_keys {
    const char *id;
    const char *primary_key;
    const char *secondary_key;
    uint32_t serial; /**< 0: the facts' group (list not loaded) */
};

/** Group @p id (case-sensitive), or NULL. Borrowed until the list changes. */
struct egroup *egroups_find(const struct app *app, const char *id);

/**
 * The enabled symmetric-key groups, in order, into @p out (at most @p cap).
 * @return how many were written.
 */
size_t egroups_sas_keys(const struct app *app, struct egroup_keys *out, size_t cap);

/** The symmetric-key group of @p serial if it still exists and is enabled. @return found. */
bool egroups_keys_by_serial(const struct app *app, uint32_t serial, struct egroup_keys *out);

/** The enabled group of @p serial (either attestation), or NULL. Borrowed. */
const struct egroup *egroups_enabled_by_serial(const struct app *app, uint32_t serial);

struct x509_st;
struct stack_st_X509;
struct auth_cert;
/**
 * Where @p leaf's chain (with the peer's @p untrusted) leads among the X.509 groups' CA
 * certificates (primary and secondary, root or intermediate; hub/x509.c checks each chain):
 * sets cert->group (verified CA of an enabled group first, then unverified, then disabled
 * group) and cert->group_serial.
 */
void egroups_cert_match(struct app *app, struct x509_st *leaf, struct stack_st_X509 *untrusted,
                        struct auth_cert *cert);

/** Free the list and set app->groups to NULL. */
void egroups_free(struct app *app);

#endif /* CENTRAL_GROUPS_H */
