/*
 * devices.c - `iotc devices create|list|show|credentials|block|unblock|delete`
 * (compute-key is in groups.c)
 * (/api/devices; docs/API.md "Devices").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_device_path(const struct cli *c, const char *id, const char *suffix, char *out, size_t size)
{
    return cli_id_path(c, "/api/devices", id, suffix, out, size, "device");
}

static void print_device(const cJSON *d)
{
    const cJSON *conn = cJSON_GetObjectItem(d, "connected");
    char *last = cli_value_text(cJSON_GetObjectItem(d, "lastActivity"));
    printf("Device:        %s\n", cli_str(d, "id", "?"));
    printf("Name:          %s\n", cli_str(d, "displayName", ""));
    printf("Template:      %s\n", cli_str(d, "template", "- (unassociated)"));
    printf("Status:        %s\n", cli_str(d, "status", "?"));
    printf("Enabled:       %s\n", cJSON_IsFalse(cJSON_GetObjectItem(d, "enabled")) ? "no" : "yes");
    printf("Provisioned:   %s\n",
           cJSON_IsTrue(cJSON_GetObjectItem(d, "provisioned")) ? "yes" : "no");
    printf("Simulated:     %s\n", cJSON_IsTrue(cJSON_GetObjectItem(d, "simulated")) ? "yes" : "no");
    printf("Connected:     %s\n", cJSON_IsTrue(conn) ? "yes" : "no");
    printf("Last activity: %s\n", last);
    printf("Model id:      %s\n", cli_str(d, "modelId", "-"));
    free(last);
}

static int one_device(struct cli *c, int argc, char **argv, const struct opt *o, const char **id,
                      char *path, size_t size, const char *suffix)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one device ID"};
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    *id = args.pos[0];
    rc = cli_device_path(c, args.pos[0], suffix, path, size);
    return rc != 0 ? rc : cli_setup(c);
}

/* Send @p method with @p body; print the device that comes back. */
static int send_device(struct cli *c, const char *method, const char *path, const cJSON *body,
                       const char *what, const char *done)
{
    struct cli_resp r;
    int rc = 0;
    if (cli_http(c, method, path, body, 60, &r) < 0 || r.status != 200) {
        rc = cli_fail(c, &r, what);
    } else if (c->json) {
        cli_print_json(r.json);
    } else {
        printf("%s %s: status %s\n", done, cli_str(r.json, "id", "?"),
               cli_str(r.json, "status", "?"));
    }
    cli_resp_free(&r);
    return rc;
}

int cmd_devices_create(struct cli *c, int argc, char **argv)
{
    const char *tmpl = NULL, *name = NULL;
    bool simulated = false;
    const struct opt o[] = {
        {"template", 0, OPT_STR, &tmpl, .arg = "ID"},
        {"name", 0, OPT_STR, &name, .arg = "NAME"},
        {"simulated", 0, OPT_FLAG, &simulated, .arg = NULL},
        {0},
    };
    const char *id = NULL;
    char path[1000], what[1000];
    int rc = one_device(c, argc, argv, o, &id, path, sizeof path, "");
    if (rc != 0)
        return rc;
    /* An existing device keeps what the command line does not mention (PATCH): a PUT would
     * reset it, e.g. drop the template when only --name is given. */
    struct cli_resp before;
    bool exists = cli_http(c, "GET", path, NULL, 60, &before) == 0 && before.status == 200;
    cli_resp_free(&before);
    cJSON *b = cJSON_CreateObject();
    if (name != NULL || !exists)
        cJSON_AddStringToObject(b, "displayName", name != NULL ? name : id);
    if (tmpl != NULL)
        cJSON_AddStringToObject(b, "template", tmpl);
    if (simulated || !exists)
        cJSON_AddBoolToObject(b, "simulated", simulated);
    if (!exists)
        cJSON_AddBoolToObject(b, "enabled", true);
    snprintf(what, sizeof what, "cannot %s device %s", exists ? "update" : "create", id);
    rc = send_device(c, exists ? "PATCH" : "PUT", path, b, what,
                     exists ? "updated device" : "created device");
    cJSON_Delete(b);
    return rc;
}

int cmd_devices_list(struct cli *c, int argc, char **argv)
{
    long top = 0;
    const char *filter = NULL, *orderby = NULL;
    const struct opt o[] = {
        {"top", 0, OPT_LONG, &top, 1, 1000000, .arg = "N"},
        {"filter", 0, OPT_STR, &filter, .arg = "EXPR"},
        {"orderby", 0, OPT_STR, &orderby, .arg = "EXPR"},
        {0},
    };
    struct cli_args args = {.min = 0, .max = 0};
    char path[7000], ef[3100], eo[400];
    cJSON *all = NULL;
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    /* the server checks the expressions ($filter / $orderby of the API) */
    if (cli_pct(filter ? filter : "", ef, sizeof ef) < 0 ||
        cli_pct(orderby ? orderby : "", eo, sizeof eo) < 0)
        return cli_err(c, CLI_USAGE, "--filter or --orderby too long");
    snprintf(path, sizeof path, "/api/devices%s%s%s%s%s", filter || orderby ? "?" : "",
             filter ? "$filter=" : "", filter ? ef : "", filter && orderby ? "&" : "",
             orderby ? "$orderby=" : "");
    if (orderby)
        snprintf(path + strlen(path), sizeof path - strlen(path), "%s", eo);
    rc = cli_fetch(c, path, (size_t)top, "cannot list devices", &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"ID",     "NAME",      "TEMPLATE",
                                       "STATUS", "CONNECTED", "LAST ACTIVITY"};
    struct cli_table t;
    cli_table_init(&t, 6, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        const char *row[] = {cli_str(e, "id", "?"),
                             cli_str(e, "displayName", ""),
                             cli_str(e, "template", "-"),
                             cli_str(e, "status", "?"),
                             cJSON_IsTrue(cJSON_GetObjectItem(e, "connected")) ? "yes" : "no",
                             cli_str(e, "lastActivity", "-")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 50, "(no devices)");
    cJSON_Delete(all);
    return 0;
}

int cmd_devices_show(struct cli *c, int argc, char **argv)
{
    const char *id = NULL;
    char path[1000], what[1000];
    cJSON *d = NULL;
    int rc = one_device(c, argc, argv, NULL, &id, path, sizeof path, "");
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "device %s", id);
    rc = cli_show(c, path, what, &d);
    if (d != NULL)
        print_device(d);
    cJSON_Delete(d);
    return rc;
}

/* Single-quote for a POSIX shell. */
static void shell_quote(const char *s)
{
    fputc('\'', stdout);
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            fputc(*s, stdout);
    }
    fputc('\'', stdout);
}

static void env_line(const char *name, const char *value)
{
    printf("export %s=", name);
    shell_quote(value);
    fputc('\n', stdout);
}

int cmd_devices_credentials(struct cli *c, int argc, char **argv)
{
    bool env = false;
    const struct opt o[] = {{"env", 0, OPT_FLAG, &env, .arg = NULL}, {0}};
    const char *id = NULL;
    char path[1000], what[1000];
    cJSON *cr = NULL;
    int rc = one_device(c, argc, argv, o, &id, path, sizeof path, "/credentials");
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "credentials of device %s", id);
    rc = cli_get(c, path, what, &cr);
    if (rc != 0)
        return rc;
    const cJSON *keys = cJSON_GetObjectItem(cr, "symmetricKey");
    const cJSON *x509 = keys == NULL ? cJSON_GetObjectItem(cr, "x509") : NULL;
    const char *scope = cli_str(cr, "idScope", "");
    const char *pk = cli_str(keys, "primaryKey", "");
    const char *sk = cli_str(keys, "secondaryKey", "");
    /* the server says where its DPS listens; older servers did not, then the data dir may */
    const char *ep = cli_str(cr, "provisioningEndpoint", c->dps_endpoint[0] ? c->dps_endpoint : "");
    if (c->json) {
        /* what the API returned, plus what the CLI knows from the data dir */
        cJSON_AddStringToObject(cr, "deviceId", id);
        if (ep[0] != '\0' && cJSON_GetObjectItem(cr, "provisioningEndpoint") == NULL)
            cJSON_AddStringToObject(cr, "provisioningEndpoint", ep);
        if (c->ca_file[0] != '\0')
            cJSON_AddStringToObject(cr, "caFile", c->ca_file);
        cli_print_json(cr);
    } else if (env) {
        env_line("IOTHUB_DEVICE_SECURITY_TYPE", "DPS");
        env_line("IOTHUB_DEVICE_DPS_ID_SCOPE", scope);
        env_line("IOTHUB_DEVICE_DPS_DEVICE_ID", id);
        if (x509 == NULL)
            env_line("IOTHUB_DEVICE_DPS_DEVICE_KEY", pk);
        else /* the certificate files are the operator's; environmental-sensor reads these */
            printf(
                "# X.509 device: export X509_CERT_FILE=... X509_KEY_FILE=... (its certificate)\n");
        if (ep[0] != '\0')
            env_line("IOTHUB_DEVICE_DPS_ENDPOINT", ep);
        if (c->ca_file[0] != '\0')
            env_line("IOTC_CA_FILE", c->ca_file);
    } else if (x509 != NULL) { /* what an X.509 device needs: the id and which certificate */
        const cJSON *certs = cJSON_GetObjectItem(x509, "clientCertificates");
        printf("ID scope:       %s\n", scope);
        printf("Registration:   %s (the certificate's CN when it chains to a CA)\n", id);
        if (certs == NULL)
            printf("Certificate:    CN = %s, chaining to a verified CA of the application\n", id);
        static const char *const slots[] = {"primary", "secondary"};
        for (int i = 0; certs != NULL && i < 2; i++) {
            const cJSON *info = cJSON_GetObjectItem(cJSON_GetObjectItem(certs, slots[i]), "info");
            const char *t =
                cli_str(info, "sha1Thumbprint", cli_str(info, "sha256Thumbprint", NULL));
            if (t != NULL)
                printf("%-15s %s\n", i == 0 ? "Certificate:" : "Or certificate:", t);
        }
        if (ep[0] != '\0')
            printf("DPS endpoint:   %s\n", ep);
        if (c->ca_file[0] != '\0')
            printf("CA file:        %s\n", c->ca_file);
    } else {
        printf("ID scope:       %s\n", scope);
        printf("Device id:      %s\n", id);
        printf("Primary key:    %s\n", pk);
        printf("Secondary key:  %s\n", sk);
        if (ep[0] != '\0')
            printf("DPS endpoint:   %s\n", ep);
        if (c->ca_file[0] != '\0')
            printf("CA file:        %s\n", c->ca_file);
    }
    cJSON_Delete(cr);
    return 0;
}

static int set_enabled(struct cli *c, int argc, char **argv, bool enable)
{
    const char *id = NULL;
    char path[1000], what[1000];
    int rc = one_device(c, argc, argv, NULL, &id, path, sizeof path, "");
    if (rc != 0)
        return rc;
    cJSON *b = cJSON_CreateObject();
    cJSON_AddBoolToObject(b, "enabled", enable);
    snprintf(what, sizeof what, "cannot %s device %s", enable ? "unblock" : "block", id);
    rc = send_device(c, "PATCH", path, b, what, enable ? "unblocked device" : "blocked device");
    cJSON_Delete(b);
    return rc;
}

int cmd_devices_block(struct cli *c, int argc, char **argv)
{
    return set_enabled(c, argc, argv, false);
}

int cmd_devices_unblock(struct cli *c, int argc, char **argv)
{
    return set_enabled(c, argc, argv, true);
}

int cmd_devices_delete(struct cli *c, int argc, char **argv)
{
    const char *id = NULL;
    char path[1000];
    int rc = one_device(c, argc, argv, NULL, &id, path, sizeof path, "");
    return rc != 0 ? rc : cli_delete(c, path, "device", id);
}

int cmd_devices_update(struct cli *c, int argc, char **argv)
{
    const char *name = NULL, *enabled = NULL;
    const struct opt o[] = {
        {"name", 0, OPT_STR, &name, .arg = "NAME"},
        {"enabled", 0, OPT_STR, &enabled, .arg = "true|false"},
        {0},
    };
    const char *id = NULL;
    char path[1000], what[1000];
    int rc = one_device(c, argc, argv, o, &id, path, sizeof path, "");
    if (rc != 0)
        return rc;
    if (enabled != NULL && strcmp(enabled, "true") != 0 && strcmp(enabled, "false") != 0)
        return cli_err(c, CLI_USAGE, "option '--enabled': '%s' is not true or false", enabled);
    if (name == NULL && enabled == NULL)
        return cli_err(c, CLI_USAGE, "nothing to change: give --name and/or --enabled");
    cJSON *b = cJSON_CreateObject();
    if (name != NULL)
        cJSON_AddStringToObject(b, "displayName", name);
    if (enabled != NULL)
        cJSON_AddBoolToObject(b, "enabled", strcmp(enabled, "true") == 0);
    snprintf(what, sizeof what, "cannot update device %s", id);
    rc = send_device(c, "PATCH", path, b, what, "updated device");
    cJSON_Delete(b);
    return rc;
}
