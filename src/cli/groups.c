/*
 * groups.c - `iotc enrollment-groups list|show|create|update|delete|regenerate-key`
 * (/api/enrollmentGroups; docs/API.md "Enrollment groups") and `iotc devices compute-key`, the
 * device key derived from a group key (what `az iot central device compute-device-key` prints).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iotc/codec.h>
#include <iotc/sas.h>

#include "cli/cli.h"

#define DEFAULT_GROUP "SAS-IoT-Devices"

static int group_path(const struct cli *c, const char *id, const char *suffix, char *out,
                      size_t size)
{
    return cli_id_path(c, "/api/enrollmentGroups", id, suffix, out, size, "enrollment group");
}

static void print_group(const cJSON *g)
{
    const cJSON *att = cJSON_GetObjectItem(g, "attestation");
    const cJSON *sk = cJSON_GetObjectItem(att, "symmetricKey");
    printf("Group:         %s\n", cli_str(g, "id", "?"));
    printf("Name:          %s\n", cli_str(g, "displayName", ""));
    printf("Type:          %s\n", cli_str(g, "type", "?"));
    printf("Enabled:       %s\n", cJSON_IsFalse(cJSON_GetObjectItem(g, "enabled")) ? "no" : "yes");
    printf("Attestation:   %s\n", cli_str(att, "type", "?"));
    if (sk != NULL) {
        printf("Primary key:   %s\n", cli_str(sk, "primaryKey", ""));
        printf("Secondary key: %s\n", cli_str(sk, "secondaryKey", ""));
    }
    const cJSON *sc = cJSON_GetObjectItem(cJSON_GetObjectItem(att, "x509"), "signingCertificates");
    static const char *const slots[] = {"primary", "secondary"};
    for (int i = 0; sc != NULL && i < 2; i++) {
        const cJSON *e = cJSON_GetObjectItem(sc, slots[i]);
        printf("%-14s %s\n", i == 0 ? "Primary CA:" : "Secondary CA:",
               e == NULL                                          ? "(none)"
               : cJSON_IsTrue(cJSON_GetObjectItem(e, "verified")) ? "verified"
                                                                  : "unverified");
        if (e != NULL)
            printf("  sha1         %s\n",
                   cli_str(cJSON_GetObjectItem(e, "info"), "sha1Thumbprint", "?"));
    }
    printf("ID scope:      %s\n", cli_str(g, "idScope", "-"));
}

/* Send @p body with @p method to the group; print the group that comes back. */
static int send_group(struct cli *c, const char *method, const char *path, const cJSON *body,
                      const char *id, const char *done)
{
    struct cli_resp r;
    char what[600];
    snprintf(what, sizeof what, "cannot %s enrollment group %s",
             strcmp(method, "PUT") == 0 ? "create" : "change", id);
    int rc = cli_send(c, method, path, body, 60, 200, true, what, &r);
    if (rc != 0)
        return rc;
    if (c->json) {
        cli_print_json(r.json);
    } else {
        printf("%s enrollment group %s\n", done, id);
        print_group(r.json);
    }
    cli_resp_free(&r);
    return 0;
}

int cmd_groups_list(struct cli *c, int argc, char **argv)
{
    cJSON *all = NULL;
    int rc =
        cli_list(c, argc, argv, "/api/enrollmentGroups", "cannot list enrollment groups", &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"ID", "NAME", "TYPE", "ATTESTATION", "ENABLED"};
    struct cli_table t;
    cli_table_init(&t, 5, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        const char *row[] = {cli_str(e, "id", "?"), cli_str(e, "displayName", ""),
                             cli_str(e, "type", "?"),
                             cli_str(cJSON_GetObjectItem(e, "attestation"), "type", "?"),
                             cJSON_IsFalse(cJSON_GetObjectItem(e, "enabled")) ? "no" : "yes"};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 50, "(no enrollment groups)");
    cJSON_Delete(all);
    return 0;
}

int cmd_groups_show(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one group ID"};
    char path[600], what[600];
    cJSON *g = NULL;
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = group_path(c, args.pos[0], "", path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "enrollment group %s", args.pos[0]);
    rc = cli_show(c, path, what, &g);
    if (rc == 0 && g != NULL)
        print_group(g);
    cJSON_Delete(g);
    return rc;
}

/* The fields create and update share; NULL/absent options leave a field out. */
struct group_opts {
    const char *name, *type, *enabled, *pk, *sk, *att;
};

static int group_body(const struct cli *c, const struct group_opts *o, bool create, cJSON **out)
{
    *out = NULL;
    if (o->type != NULL && strcmp(o->type, "iot") != 0 && strcmp(o->type, "iotEdge") != 0)
        return cli_err(c, CLI_USAGE, "--type must be iot or iotEdge");
    if (o->enabled != NULL && strcmp(o->enabled, "true") != 0 && strcmp(o->enabled, "false") != 0)
        return cli_err(c, CLI_USAGE, "--enabled must be true or false");
    if (o->att != NULL && strcmp(o->att, "symmetricKey") != 0 && strcmp(o->att, "x509") != 0)
        return cli_err(c, CLI_USAGE, "--attestation must be symmetricKey or x509");
    bool x509 = o->att != NULL && strcmp(o->att, "x509") == 0;
    if (x509 && o->pk != NULL)
        return cli_err(c, CLI_USAGE, "an x509 group has no keys (see `certificate set`)");
    if ((o->pk == NULL) != (o->sk == NULL))
        return cli_err(c, CLI_USAGE, "give both --primary-key and --secondary-key, or neither");
    cJSON *b = cJSON_CreateObject();
    if (b == NULL)
        return cli_err(c, CLI_API, "out of memory");
    if (o->name != NULL)
        cJSON_AddStringToObject(b, "displayName", o->name);
    if (o->type != NULL || create)
        cJSON_AddStringToObject(b, "type", o->type != NULL ? o->type : "iot");
    if (o->enabled != NULL)
        cJSON_AddBoolToObject(b, "enabled", strcmp(o->enabled, "true") == 0);
    if (o->pk != NULL || o->att != NULL || create) {
        cJSON *att = cJSON_AddObjectToObject(b, "attestation");
        cJSON_AddStringToObject(att, "type", x509 ? "x509" : "symmetricKey");
        if (o->pk != NULL) {
            cJSON *k = cJSON_AddObjectToObject(att, "symmetricKey");
            cJSON_AddStringToObject(k, "primaryKey", o->pk);
            cJSON_AddStringToObject(k, "secondaryKey", o->sk);
        }
    }
    *out = b;
    return 0;
}

static int create_or_update(struct cli *c, int argc, char **argv, bool create)
{
    struct group_opts g = {0};
    const struct opt o[] = {
        {"name", 0, OPT_STR, &g.name, .arg = "NAME"},
        {"type", 0, OPT_STR, &g.type, .arg = "iot|iotEdge"},
        {"enabled", 0, OPT_STR, &g.enabled, .arg = "true|false"},
        {"primary-key", 0, OPT_STR, &g.pk, .arg = "KEY"},
        {"secondary-key", 0, OPT_STR, &g.sk, .arg = "KEY"},
        {"attestation", 0, OPT_STR, &g.att, .arg = "symmetricKey|x509"},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one group ID"};
    char path[600];
    cJSON *body = NULL;
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc == 0 && create && g.name == NULL)
        g.name = args.pos[0];
    if (rc == 0)
        rc = group_body(c, &g, create, &body);
    if (rc == 0)
        rc = group_path(c, args.pos[0], "", path, sizeof path);
    if (rc == 0)
        rc = send_group(c, create ? "PUT" : "PATCH", path, body, args.pos[0],
                        create ? "created" : "updated");
    cJSON_Delete(body);
    return rc;
}

int cmd_groups_create(struct cli *c, int argc, char **argv)
{
    return create_or_update(c, argc, argv, true);
}

int cmd_groups_update(struct cli *c, int argc, char **argv)
{
    return create_or_update(c, argc, argv, false);
}

int cmd_groups_delete(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one group ID"};
    char path[600];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = group_path(c, args.pos[0], "", path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    return rc != 0 ? rc : cli_delete(c, path, "enrollment group", args.pos[0]);
}

int cmd_groups_regenerate_key(struct cli *c, int argc, char **argv)
{
    const char *which = "primary";
    const struct opt o[] = {{"key", 0, OPT_STR, &which, .arg = "primary|secondary"}, {0}};
    struct cli_args args = {.min = 1, .max = 1, .usage = "one group ID"};
    char path[700];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    if (strcmp(which, "primary") != 0 && strcmp(which, "secondary") != 0)
        return cli_err(c, CLI_USAGE, "--key must be primary or secondary");
    char suffix[64];
    snprintf(suffix, sizeof suffix, "/regenerateKey?keyType=%s", which);
    rc = group_path(c, args.pos[0], suffix, path, sizeof path);
    return rc != 0 ? rc : send_group(c, "POST", path, NULL, args.pos[0], "new key for");
}

/* ---------------------------------------------------------------- devices compute-key */

static int derive(const struct cli *c, const char *group_key, const char *id, char *out)
{
    size_t len;
    int rc = iotc_sas_derive_device_key(iotc_span_from_cstr(group_key), iotc_span_from_cstr(id),
                                        out, 64, &len);
    if (rc != IOTC_OK)
        return cli_err(c, CLI_USAGE, "the group key is not base64 (%s)", iotc_strerror(rc));
    return 0;
}

int cmd_devices_compute_key(struct cli *c, int argc, char **argv)
{
    const char *key = NULL, *group = DEFAULT_GROUP;
    const struct opt o[] = {
        {"key", 0, OPT_STR, &key, .arg = "GROUPKEY"},
        {"group", 0, OPT_STR, &group, .arg = "ID"},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one device ID"};
    char pk[64], sk[64], path[600];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    const char *id = args.pos[0];
    if (key != NULL) { /* offline, from the key given */
        rc = derive(c, key, id, pk);
        if (rc != 0)
            return rc;
        if (c->json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "deviceId", id);
            cJSON_AddStringToObject(j, "primaryKey", pk);
            cli_print_json(j);
            cJSON_Delete(j);
        } else {
            printf("%s\n", pk);
        }
        return 0;
    }
    /* from the group's keys, as the server has them (administrator token) */
    cJSON *g = NULL;
    char what[600];
    snprintf(what, sizeof what, "enrollment group %s", group);
    rc = group_path(c, group, "", path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    if (rc == 0)
        rc = cli_get(c, path, what, &g);
    if (rc != 0)
        return rc;
    const cJSON *keys = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "attestation"), "symmetricKey");
    if (keys == NULL) {
        cJSON_Delete(g);
        return cli_err(c, CLI_API, "enrollment group %s has no symmetric keys", group);
    }
    rc = derive(c, cli_str(keys, "primaryKey", ""), id, pk);
    if (rc == 0)
        rc = derive(c, cli_str(keys, "secondaryKey", ""), id, sk);
    if (rc == 0 && c->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "deviceId", id);
        cJSON_AddStringToObject(j, "enrollmentGroup", group);
        cJSON_AddStringToObject(j, "primaryKey", pk);
        cJSON_AddStringToObject(j, "secondaryKey", sk);
        cli_print_json(j);
        cJSON_Delete(j);
    } else if (rc == 0) {
        /* the primary key alone on stdout, so that K=$(iotc devices compute-key d1) works */
        printf("%s\n", pk);
    }
    cJSON_Delete(g);
    return rc;
}
