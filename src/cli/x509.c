/*
 * x509.c - X.509 in `iotc`: an enrollment group's CA certificates (`enrollment-groups
 * certificate set|show|verify-code|verify|delete`, /api/enrollmentGroups/{id}/certificates) and
 * a device's attestation (`devices attestation show|set`, /api/devices/{id}/attestation).
 * docs/CLI.md "X.509"; the flow end to end: docs/DEVICE_PLANE.md "X.509 devices".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CERT_FILE_MAX (64 * 1024)

/* {"certificate": the text of @p file} (PEM, or base64 DER as the file has it). */
static int cert_body(const struct cli *c, const char *file, const char *member, cJSON *into)
{
    char *text = cli_read_file(file, CERT_FILE_MAX, NULL);
    if (text == NULL)
        return cli_err(c, CLI_USAGE, "cannot read certificate file %s", file);
    cJSON_AddStringToObject(into, member, text);
    free(text);
    return 0;
}

static void print_cert(const char *entry, const cJSON *o)
{
    printf("%-10s %s  sha1 %s\n", entry,
           cJSON_IsTrue(cJSON_GetObjectItem(o, "verified")) ? "verified  " : "unverified",
           cli_str(cJSON_GetObjectItem(o, "info"), "sha1Thumbprint", "?"));
}

/* `enrollment-groups certificate ACTION GROUP [FILE] [--entry primary|secondary]` */
int cmd_groups_certificate(struct cli *c, int argc, char **argv)
{
    const char *entry = "primary";
    const struct opt o[] = {{"entry", 0, OPT_STR, &entry, .arg = "primary|secondary"}, {0}};
    struct cli_args args = {.min = 2, .max = 3, .usage = "ACTION GROUP [FILE]"};
    char enc[400], path[800], what[600];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    const char *act = args.pos[0], *group = args.pos[1], *file = args.n > 2 ? args.pos[2] : NULL;
    bool needs_file = strcmp(act, "set") == 0 || strcmp(act, "verify") == 0;
    if (strcmp(entry, "primary") != 0 && strcmp(entry, "secondary") != 0)
        return cli_err(c, CLI_USAGE, "--entry must be primary or secondary");
    if (!needs_file && strcmp(act, "show") != 0 && strcmp(act, "verify-code") != 0 &&
        strcmp(act, "delete") != 0)
        return cli_err(c, CLI_USAGE, "unknown action '%s' (set, show, verify-code, verify, delete)",
                       act);
    if (needs_file != (file != NULL))
        return cli_err(c, CLI_USAGE, "%s %s a certificate FILE", act,
                       needs_file ? "needs" : "takes no");
    if (cli_pct(group, enc, sizeof enc) < 0)
        return cli_err(c, CLI_USAGE, "enrollment group id too long");
    snprintf(path, sizeof path, "/api/enrollmentGroups/%s/certificates/%s%s", enc, entry,
             strcmp(act, "verify-code") == 0 ? "/generateVerificationCode"
             : strcmp(act, "verify") == 0    ? "/verify"
                                             : "");
    snprintf(what, sizeof what, "%s certificate of enrollment group %s", entry, group);
    cJSON *body = NULL;
    if (needs_file) {
        body = cJSON_CreateObject();
        if (body == NULL)
            return cli_err(c, CLI_API, "out of memory");
        rc = cert_body(c, file, "certificate", body);
    }
    if (rc == 0)
        rc = cli_setup(c);
    if (rc != 0) {
        cJSON_Delete(body);
        return rc;
    }
    struct cli_resp r = {0};
    cJSON *shown = NULL;
    if (strcmp(act, "show") == 0) {
        rc = cli_show(c, path, what, &shown);
        if (rc == 0 && shown != NULL)
            print_cert(entry, shown);
        cJSON_Delete(shown);
    } else if (strcmp(act, "delete") == 0) {
        char which[600];
        snprintf(which, sizeof which, "%s of enrollment group %s", entry, group);
        rc = cli_delete(c, path, "CA certificate",
                        which); /* "deleted CA certificate primary of ..." */
    } else if (strcmp(act, "verify") == 0) {
        if (cli_http(c, "POST", path, body, 60, &r) < 0 || r.status != 204) {
            rc = cli_fail(c, &r, "cannot verify the certificate");
        } else if (c->json) {
            printf("{\"verified\":true}\n");
        } else {
            printf("verified the %s\n", what);
        }
        cli_resp_free(&r);
    } else {
        const bool code = strcmp(act, "verify-code") == 0;
        rc = cli_send(c, code ? "POST" : "PUT", path, body, 60, 200, true, what, &r);
        if (rc == 0) {
            if (c->json)
                cli_print_json(r.json);
            else if (code) /* alone on stdout: CODE=$(iotc enrollment-groups certificate ...) */
                printf("%s\n", cli_str(r.json, "verificationCode", ""));
            else
                print_cert(entry, r.json);
            cli_resp_free(&r);
        }
    }
    cJSON_Delete(body);
    return rc;
}

static void print_attestation(const char *id, const cJSON *a)
{
    const cJSON *x = cJSON_GetObjectItem(a, "x509");
    const cJSON *certs = cJSON_GetObjectItem(x, "clientCertificates");
    printf("Device:       %s\n", id);
    printf("Attestation:  %s\n", cli_str(a, "type", "?"));
    if (x == NULL)
        return;
    if (certs == NULL) {
        printf("Certificate:  CN = %s, chaining to a verified CA\n", id);
        return;
    }
    static const char *const slots[] = {"primary", "secondary"};
    for (int i = 0; i < 2; i++) {
        const cJSON *info = cJSON_GetObjectItem(cJSON_GetObjectItem(certs, slots[i]), "info");
        const char *t = cli_str(info, "sha1Thumbprint", cli_str(info, "sha256Thumbprint", NULL));
        if (t != NULL)
            printf("%-13s %s\n", i == 0 ? "Primary:" : "Secondary:", t);
    }
}

/* `devices attestation show ID` / `devices attestation set ID (--cert FILE
 * [--secondary-cert FILE] | --ca | --sas)` */
int cmd_devices_attestation(struct cli *c, int argc, char **argv)
{
    const char *cert = NULL, *cert2 = NULL;
    bool ca = false, sas = false;
    const struct opt o[] = {
        {"cert", 0, OPT_STR, &cert, .arg = "FILE"},
        {"secondary-cert", 0, OPT_STR, &cert2, .arg = "FILE"},
        {"ca", 0, OPT_FLAG, &ca, .arg = NULL},
        {"sas", 0, OPT_FLAG, &sas, .arg = NULL},
        {0},
    };
    struct cli_args args = {.min = 2, .max = 2, .usage = "show|set ID"};
    char path[1000], what[1000];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    const char *act = args.pos[0], *id = args.pos[1];
    bool set = strcmp(act, "set") == 0;
    if (!set && strcmp(act, "show") != 0)
        return cli_err(c, CLI_USAGE, "unknown action '%s' (show, set)", act);
    if (!set && (cert || cert2 || ca || sas))
        return cli_err(c, CLI_USAGE, "show takes no --cert, --ca or --sas");
    if (set && (cert != NULL) + ca + sas != 1)
        return cli_err(c, CLI_USAGE, "set needs one of --cert FILE, --ca, --sas");
    if (cert2 != NULL && cert == NULL)
        return cli_err(c, CLI_USAGE, "--secondary-cert goes with --cert");
    rc = cli_device_path(c, id, "/attestation", path, sizeof path);
    cJSON *body = NULL;
    if (rc == 0 && set) {
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "type", sas ? "symmetricKey" : "x509");
        if (cert != NULL) {
            cJSON *cc = cJSON_AddObjectToObject(cJSON_AddObjectToObject(body, "x509"),
                                                "clientCertificates");
            rc = cert_body(c, cert, "certificate", cJSON_AddObjectToObject(cc, "primary"));
            if (rc == 0 && cert2 != NULL)
                rc = cert_body(c, cert2, "certificate", cJSON_AddObjectToObject(cc, "secondary"));
        } else if (ca) {
            cJSON_AddObjectToObject(body, "x509");
        }
    }
    if (rc == 0)
        rc = cli_setup(c);
    if (rc != 0) {
        cJSON_Delete(body);
        return rc;
    }
    snprintf(what, sizeof what, "attestation of device %s", id);
    cJSON *a = NULL;
    if (set) {
        struct cli_resp r = {0};
        rc = cli_send(c, "PUT", path, body, 60, 200, true, what, &r);
        if (rc == 0 && c->json)
            cli_print_json(r.json);
        else if (rc == 0)
            print_attestation(id, r.json);
        if (rc == 0)
            cli_resp_free(&r);
    } else {
        rc = cli_show(c, path, what, &a);
        if (rc == 0 && a != NULL)
            print_attestation(id, a);
    }
    cJSON_Delete(a);
    cJSON_Delete(body);
    return rc;
}
