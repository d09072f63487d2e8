/*
 * sasvec: computes SAS tokens, signatures and derived keys with the iotc core, one
 * request per input line, so the Node cross-check (sascheck.test.mjs) can compare
 * them with what the official SDKs compute. Fields are separated by TABs:
 *
 *   hub     KEY HOST DEVICE SE      -> device -> IoT Hub token
 *   dps     STYLE KEY SCOPE REGID SE -> DPS token, STYLE is csdk|py|node
 *   svc     KEY HOST POLICY SE      -> service policy token
 *   derive  GROUPKEY REGID          -> derived device key
 *   verify  TOKEN KEY NOW           -> "ok" or the iotc_strerror() text
 *
 * Each answer is one line; an error prints "error: <text>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iotc/sas.h>

#define MAX_FIELDS 8

static struct iotc_span sp(const char *s)
{
    return (struct iotc_span){s, strlen(s)};
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int split(char *line, char **f)
{
    int n = 0;
    char *p = line;
    while (n < MAX_FIELDS) {
        f[n++] = p;
        p = strchr(p, '\t');
        if (p == NULL)
            break;
        *p++ = '\0';
    }
    return n;
}

static void answer(int rc, const char *text)
{
    if (rc == IOTC_OK)
        printf("%s\n", text);
    else
        printf("error: %s\n", iotc_strerror(rc));
}

static void handle(char *line)
{
    char *f[MAX_FIELDS];
    char out[2048];
    size_t n = 0;
    uint64_t num = 0;
    int rc = IOTC_E_ARG;
    int nf = split(line, f);

    if (strcmp(f[0], "hub") == 0 && nf == 5 && parse_u64(f[4], &num) == 0) {
        rc = iotc_sas_token_hub(sp(f[1]), sp(f[2]), sp(f[3]), IOTC_SPAN_NULL, IOTC_SPAN_NULL, num,
                                out, sizeof out, &n);
    } else if (strcmp(f[0], "dps") == 0 && nf == 6 && parse_u64(f[5], &num) == 0) {
        enum iotc_sas_dps_style style = IOTC_SAS_DPS_CSDK;
        if (strcmp(f[1], "py") == 0)
            style = IOTC_SAS_DPS_PY;
        else if (strcmp(f[1], "node") == 0)
            style = IOTC_SAS_DPS_NODE;
        rc = iotc_sas_token_dps(sp(f[2]), sp(f[3]), sp(f[4]), style, num, out, sizeof out, &n);
    } else if (strcmp(f[0], "svc") == 0 && nf == 5 && parse_u64(f[4], &num) == 0) {
        rc = iotc_sas_token_service(sp(f[1]), sp(f[2]), sp(f[3]), num, out, sizeof out, &n);
    } else if (strcmp(f[0], "derive") == 0 && nf == 3) {
        rc = iotc_sas_derive_device_key(sp(f[1]), sp(f[2]), out, sizeof out, &n);
    } else if (strcmp(f[0], "verify") == 0 && nf == 4 && parse_u64(f[3], &num) == 0) {
        struct iotc_sas_token tok;
        rc = iotc_sas_parse(sp(f[1]), &tok);
        if (rc == IOTC_OK)
            rc = iotc_sas_verify(&tok, sp(f[2]), num);
        snprintf(out, sizeof out, "ok");
    }
    answer(rc, out);
}

int main(void)
{
    char line[4096];
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        handle(line);
        fflush(stdout);
    }
    return 0;
}
