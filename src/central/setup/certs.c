/*
 * certs.c - `iotc-central certs`: development certificates for X.509 devices, as the Azure
 * samples' scripts make them, without openssl command lines (docs/CLI.md "certs"):
 *   certs root --out DIR            a test root CA: DIR/root.pem, DIR/root-key.pem
 *   certs device --id ID --out DIR  a device certificate (CN = ID): DIR/ID.pem, DIR/ID-key.pem,
 *                                   signed by --ca DIR's root, or self-signed without --ca
 *   certs verify-code --ca DIR --code CODE --out DIR
 *                                   the proof of possession: DIR/verification.pem (CN = CODE)
 *   certs thumbprint FILE           SHA-1 and SHA-256 thumbprints of a PEM certificate
 */
#include "central/setup/certs.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "central/setup/pki.h"
#include "util/opt.h"

static int print_thumbprints(const char *label, const char *path)
{
    char sha1[41], sha256[65];
    if (pki_thumbprints(path, sha1, sha256) < 0) {
        fprintf(stderr, "iotc-central certs: cannot read the certificate %s\n", path);
        return OPT_EXIT_FAILED;
    }
    printf("%s %s\n  sha1   %s\n  sha256 %s\n", label, path, sha1, sha256);
    return OPT_EXIT_OK;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) {
        fprintf(stderr, "iotc-central certs: cannot create %s\n", dir);
        return -1;
    }
    return 0;
}

static bool name_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL && strlen(s) <= 128;
}

int certs_main(int argc, char **argv)
{
    const char *out = NULL, *ca = NULL, *id = NULL, *code = NULL, *cn = "iotc test root CA";
    long days = 365, from = 0;
    const struct opt specs[] = {
        {"out", 0, OPT_STR, &out, .arg = "DIR", .help = "directory the files are written to"},
        {"ca", 0, OPT_STR, &ca, .arg = "DIR",
         .help = "directory of the root CA (root.pem, root-key.pem) that signs"},
        {"id", 0, OPT_STR, &id, .arg = "ID", .help = "device: the device id (the CN)"},
        {"code", 0, OPT_STR, &code, .arg = "CODE", .help = "verify-code: the verification code"},
        {"cn", 0, OPT_STR, &cn, .arg = "NAME", .help = "root: the CA's CN"},
        {"days", 0, OPT_LONG, &days, 1, 36500, .help = "validity in days (default 365)"},
        {"valid-from-days", 0, OPT_LONG, &from, -36500, 36500,
         .help = "start of validity, in days from now (default 0; for testing expired or\n"
                 "not-yet-valid certificates)"},
        {0},
    };
    const struct opt_prog prog = {
        .name = "iotc-central certs",
        .synopsis = "root|device|verify-code|thumbprint [options] [FILE]",
        .intro = "Development certificates for X.509 devices (ECDSA P-256, PEM).\n"
                 "  root --out DIR                   test root CA: DIR/root.pem, root-key.pem\n"
                 "  device --id ID --out DIR [--ca CADIR]\n"
                 "                                   device certificate, CN = ID: DIR/ID.pem,\n"
                 "                                   DIR/ID-key.pem (self-signed without --ca)\n"
                 "  verify-code --ca CADIR --code CODE --out DIR\n"
                 "                                   proof of possession: DIR/verification.pem\n"
                 "  thumbprint FILE                  SHA-1 and SHA-256 thumbprints\n"
                 "\n"
                 "options:\n",
    };
    int first = 0;
    int rc = opt_parse(&prog, specs, argc, argv, &first);
    if (rc != OPT_CONTINUE)
        return rc;
    if (first >= argc)
        return opt_error(&prog, "which certificate? root, device, verify-code or thumbprint");
    const char *what = argv[first];
    int nargs = argc - first - 1;
    if (strcmp(what, "thumbprint") == 0) {
        if (nargs != 1)
            return opt_error(&prog, "thumbprint takes one FILE");
        return print_thumbprints("certificate", argv[first + 1]);
    }
    if (nargs != 0)
        return opt_error(&prog, "unexpected argument '%s'", argv[first + 1]);
    if (out == NULL)
        return opt_error(&prog, "%s needs --out DIR", what);
    char cert[1200], key[1200], ca_cert[1200], ca_key[1200];
    struct pki_req req = {
        .cert_path = cert, .key_path = key, .start_s = from * 86400L - 3600, .days = days};
    if (ca != NULL) {
        snprintf(ca_cert, sizeof ca_cert, "%s/root.pem", ca);
        snprintf(ca_key, sizeof ca_key, "%s/root-key.pem", ca);
    }
    if (strcmp(what, "root") == 0) {
        snprintf(cert, sizeof cert, "%s/root.pem", out);
        snprintf(key, sizeof key, "%s/root-key.pem", out);
        req.cn = cn;
        req.ca = true;
    } else if (strcmp(what, "device") == 0) {
        if (!name_ok(id))
            return opt_error(&prog, "device needs --id ID (a device id, usable as a file name)");
        snprintf(cert, sizeof cert, "%s/%s.pem", out, id);
        snprintf(key, sizeof key, "%s/%s-key.pem", out, id);
        req.cn = id;
        req.issuer_cert = ca ? ca_cert : NULL;
        req.issuer_key = ca ? ca_key : NULL;
    } else if (strcmp(what, "verify-code") == 0) {
        if (ca == NULL || code == NULL || code[0] == '\0')
            return opt_error(&prog, "verify-code needs --ca DIR and --code CODE");
        snprintf(cert, sizeof cert, "%s/verification.pem", out);
        snprintf(key, sizeof key, "%s/verification-key.pem", out);
        req.cn = code;
        req.issuer_cert = ca_cert;
        req.issuer_key = ca_key;
    } else {
        return opt_error(&prog, "unknown certificate '%s' (root, device, verify-code, thumbprint)",
                         what);
    }
    if (make_dir(out) < 0 || pki_issue(&req) < 0)
        return OPT_EXIT_FAILED;
    return print_thumbprints(what, cert);
}
