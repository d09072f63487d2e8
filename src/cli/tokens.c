/*
 * tokens.c - `iotc tokens create|list|delete`: API tokens (administrator only; docs/API.md
 * "API tokens"). The token text is returned once, by create; the server keeps no copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int token_path(const struct cli *c, const char *id, char *out, size_t size)
{
    return cli_id_path(c, "/api/apiTokens", id, "", out, size, "token");
}

/* IoT Central's role ids, which the API returns, and the names the CLI shows for them. */
static const char *const role_ids[][2] = {
    {"ca310b8d-2f4a-44e0-a36e-957c202cd8d4", "administrator"},
    {"ae2c9854-393b-4f97-8c42-479d70ce626e", "operator"},
};

static const char *role_of(const cJSON *t)
{
    const char *r = cli_str(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "roles"), 0), "role", "?");
    for (size_t i = 0; i < sizeof role_ids / sizeof role_ids[0]; i++) {
        if (strcmp(r, role_ids[i][0]) == 0)
            return role_ids[i][1];
    }
    return r;
}

int cmd_tokens_create(struct cli *c, int argc, char **argv)
{
    const char *role = "operator", *expiry = NULL;
    const struct opt o[] = {
        {"role", 0, OPT_STR, &role, .arg = "ROLE"},
        {"expiry", 0, OPT_STR, &expiry, .arg = "T"},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one token ID"};
    char path[600], what[600];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    bool role_ok = strcmp(role, "operator") == 0 || strcmp(role, "administrator") == 0;
    for (size_t i = 0; i < sizeof role_ids / sizeof role_ids[0]; i++)
        role_ok = role_ok || strcmp(role, role_ids[i][0]) == 0;
    if (!role_ok)
        return cli_err(c, CLI_USAGE, "--role must be operator or administrator (or its role id)");
    if (expiry != NULL) {
        /* only the shape is checked here: the server parses the time */
        size_t n = strlen(expiry);
        if (n < 10 || expiry[4] != '-' || expiry[7] != '-')
            return cli_err(c, CLI_USAGE, "--expiry needs an RFC 3339 time (2027-11-26T00:00:00Z)");
    }
    rc = token_path(c, args.pos[0], path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    if (rc != 0)
        return rc;
    cJSON *b = cJSON_CreateObject();
    cJSON *roles = cJSON_AddArrayToObject(b, "roles");
    cJSON *r0 = cJSON_CreateObject();
    cJSON_AddStringToObject(r0, "role", role);
    cJSON_AddItemToArray(roles, r0);
    if (expiry != NULL)
        cJSON_AddStringToObject(b, "expiry", expiry);
    struct cli_resp r;
    snprintf(what, sizeof what, "cannot create token %s", args.pos[0]);
    if (cli_http(c, "PUT", path, b, 60, &r) < 0 || r.status != 200 || r.json == NULL) {
        rc = cli_fail(c, &r, what);
    } else if (c->json) {
        cli_print_json(r.json);
    } else {
        /* the text on stdout alone, so that `T=$(iotc tokens create ...)` works */
        fprintf(stderr, "token %s: role %s, expires %s (shown only now: keep it)\n", args.pos[0],
                role_of(r.json), cli_str(r.json, "expiry", "?"));
        printf("%s\n", cli_str(r.json, "token", ""));
    }
    cli_resp_free(&r);
    cJSON_Delete(b);
    return rc;
}

int cmd_tokens_list(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 0, .max = 0};
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc != 0)
        return rc;
    cJSON *all = NULL;
    rc = cli_fetch(c, "/api/apiTokens", 0, "cannot list tokens", &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"ID", "ROLE", "EXPIRY"};
    struct cli_table t;
    cli_table_init(&t, 3, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        const char *row[] = {cli_str(e, "id", "?"), role_of(e), cli_str(e, "expiry", "")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 60, "(no API tokens)");
    cJSON_Delete(all);
    return 0;
}

int cmd_tokens_delete(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one token ID"};
    char path[600];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = token_path(c, args.pos[0], path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    return rc != 0 ? rc : cli_delete(c, path, "token", args.pos[0]);
}

int cmd_tokens_show(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one token ID"};
    char path[600], what[600];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = token_path(c, args.pos[0], path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    cJSON *t = NULL;
    snprintf(what, sizeof what, "token %s", args.n > 0 ? args.pos[0] : "");
    if (rc == 0)
        rc = cli_show(c, path, what, &t);
    if (rc != 0 || t == NULL)
        return rc;
    printf("Token:  %s\n", cli_str(t, "id", "?"));
    printf("Role:   %s\n", role_of(t));
    printf("Expiry: %s\n", cli_str(t, "expiry", "-"));
    cJSON_Delete(t);
    return 0;
}
