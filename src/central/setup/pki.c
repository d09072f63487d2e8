/*
 * pki.c - local CA and server certificate with OpenSSL's X509 API (see pki.h).
 *
 * Why a local CA instead of a self-signed leaf: clients are configured once with ca.pem
 * (NODE_EXTRA_CA_CERTS, PY server_verification_cert) and keep working when the server
 * certificate is re-issued for new host names.
 */
#include "central/setup/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "central/base/app.h"
#include "central/base/log.h"

#define CA_DAYS 3650
#define SERVER_DAYS 825

static EVP_PKEY *make_key(void)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (ctx == NULL)
        return NULL;
    if (EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) <= 0 ||
        EVP_PKEY_keygen(ctx, &pkey) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int set_serial(X509 *cert)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    raw[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    if (bn == NULL)
        return -1;
    int ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static X509 *new_cert_at(EVP_PKEY *key, const char *org, const char *cn, long start_s, long days)
{
    X509 *cert = X509_new();
    if (cert == NULL)
        return NULL;
    X509_NAME *name = X509_get_subject_name(cert);
    if (X509_set_version(cert, 2) != 1 || set_serial(cert) < 0 ||
        X509_gmtime_adj(X509_getm_notBefore(cert), start_s) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(cert), start_s + 3600 + days * 86400L) == NULL ||
        X509_set_pubkey(cert, key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    (void)fchmod(fd, 0600); /* a file left by an older version may be wider */
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }
    int ok =
        key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
    if (fclose(f) != 0)
        ok = 0;
    if (!ok)
        log_error("cannot write %s", path);
    return ok ? 0 : -1;
}

/* Read the PEM certificate (cert non-NULL) or private key at path; left NULL when the file is
 * absent or not valid. */
static void read_pem(const char *path, X509 **cert, EVP_PKEY **key)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (cert != NULL)
        *cert = PEM_read_X509(f, NULL, NULL, NULL);
    else
        *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
}

static int is_ip(const char *name)
{
    return strchr(name, ':') != NULL || strspn(name, "0123456789.") == strlen(name);
}

static int covers(X509 *cert, const char *name)
{
    if (is_ip(name))
        return X509_check_ip_asc(cert, name, 0) == 1;
    return X509_check_host(cert, name, 0, 0, NULL) == 1;
}

struct ext {
    int nid;
    const char *value;
};

/* Issue a certificate for a new key, with the extensions, signed by issuer (NULL: self-signed);
 * write the key to key_path, then the certificate to cert_path. */
static int issue_at(const char *cert_path, const char *key_path, const char *org, const char *cn,
                    long start_s, long days, X509 *issuer, EVP_PKEY *issuer_key,
                    const struct ext *exts, size_t n_exts)
{
    int rc = -1;
    EVP_PKEY *key = make_key();
    X509 *cert = key ? new_cert_at(key, org, cn, start_s, days) : NULL;
    if (cert == NULL)
        goto out;
    if (issuer == NULL) {
        issuer = cert;
        issuer_key = key;
    }
    if (X509_set_issuer_name(cert, X509_get_subject_name(issuer)) != 1)
        goto out;
    for (size_t i = 0; i < n_exts; i++)
        if (add_ext(cert, issuer, exts[i].nid, exts[i].value) < 0)
            goto out;
    if (X509_sign(cert, issuer_key, EVP_sha256()) == 0)
        goto out;
    if (write_pem(key_path, NULL, key) < 0 || write_pem(cert_path, cert, NULL) < 0)
        goto out;
    rc = 0;
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

static int issue(const char *cert_path, const char *key_path, const char *cn, long days,
                 X509 *issuer, EVP_PKEY *issuer_key, const struct ext *exts, size_t n_exts)
{
    return issue_at(cert_path, key_path, "iotc local CA", cn, -3600, days, issuer, issuer_key, exts,
                    n_exts);
}

static int create_ca(const char *ca_path, const char *key_path)
{
    static const struct ext exts[] = {
        {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
        {NID_key_usage, "critical,keyCertSign,cRLSign"},
        {NID_subject_key_identifier, "hash"},
    };
    if (issue(ca_path, key_path, "iotc local CA", CA_DAYS, NULL, NULL, exts,
              sizeof exts / sizeof exts[0]) < 0)
        return -1;
    log_info("created local CA %s", ca_path);
    return 0;
}

static int create_server(const char *srv_path, const char *srv_key_path, X509 *ca, EVP_PKEY *ca_key,
                         const char *const *names, size_t n)
{
    char san[4096] = "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1";
    size_t used = strlen(san);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "localhost") == 0 || strcmp(names[i], "127.0.0.1") == 0 ||
            strcmp(names[i], "::1") == 0)
            continue;
        int k = snprintf(san + used, sizeof san - used, ",%s:%s", is_ip(names[i]) ? "IP" : "DNS",
                         names[i]);
        if (k < 0 || (size_t)k >= sizeof san - used) {
            log_error("too many certificate names");
            return -1;
        }
        used += (size_t)k;
    }
    const struct ext exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_authority_key_identifier, "keyid:always"},
        {NID_subject_alt_name, san},
    };
    if (issue(srv_path, srv_key_path, "localhost", SERVER_DAYS, ca, ca_key, exts,
              sizeof exts / sizeof exts[0]) < 0)
        return -1;
    log_info("issued server certificate for %s", san);
    return 0;
}

int pki_ensure(const char *dir, const char *const *names, size_t n_names)
{
    char ca_path[1200], ca_key_path[1200], srv_path[1200], srv_key_path[1200];
    snprintf(ca_path, sizeof ca_path, "%s/ca.pem", dir);
    snprintf(ca_key_path, sizeof ca_key_path, "%s/ca-key.pem", dir);
    snprintf(srv_path, sizeof srv_path, "%s/server.pem", dir);
    snprintf(srv_key_path, sizeof srv_key_path, "%s/server-key.pem", dir);

    if (access(ca_path, R_OK) != 0 && create_ca(ca_path, ca_key_path) < 0)
        return -1;
    X509 *ca = NULL, *srv = NULL;
    EVP_PKEY *ca_key = NULL, *srv_key = NULL;
    read_pem(ca_path, &ca, NULL);
    read_pem(ca_key_path, NULL, &ca_key);
    read_pem(srv_path, &srv, NULL);
    read_pem(srv_key_path, NULL, &srv_key);
    int rc = 0;
    if (ca == NULL || ca_key == NULL) {
        log_error("cannot read the local CA in %s", dir);
        rc = -1;
        goto out;
    }
    int ok = srv != NULL && srv_key != NULL && X509_check_private_key(srv, srv_key) == 1 &&
             X509_cmp_time(X509_get0_notAfter(srv), NULL) > 0 && covers(srv, "localhost") &&
             covers(srv, "127.0.0.1");
    for (size_t i = 0; ok && i < n_names; i++)
        ok = covers(srv, names[i]);
    if (!ok)
        rc = create_server(srv_path, srv_key_path, ca, ca_key, names, n_names);
out:
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    X509_free(srv);
    EVP_PKEY_free(srv_key);
    return rc;
}

/* ---------------------------------------------------------------- development certificates */

int pki_issue(const struct pki_req *req)
{
    static const struct ext ca_exts[] = {
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
        {NID_subject_key_identifier, "hash"},
    };
    static const struct ext leaf_exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
        {NID_ext_key_usage, "clientAuth"},
    };
    X509 *issuer = NULL;
    EVP_PKEY *issuer_key = NULL;
    if (req->issuer_cert != NULL) {
        read_pem(req->issuer_cert, &issuer, NULL);
        read_pem(req->issuer_key, NULL, &issuer_key);
        if (issuer == NULL || issuer_key == NULL) {
            log_error("cannot read the issuing CA %s / %s", req->issuer_cert, req->issuer_key);
            X509_free(issuer);
            EVP_PKEY_free(issuer_key);
            return -1;
        }
    }
    const struct ext *exts = req->ca ? ca_exts : leaf_exts;
    size_t n =
        req->ca ? sizeof ca_exts / sizeof ca_exts[0] : sizeof leaf_exts / sizeof leaf_exts[0];
    int rc = issue_at(req->cert_path, req->key_path, "iotc development", req->cn, req->start_s,
                      req->days, issuer, issuer_key, exts, n);
    X509_free(issuer);
    EVP_PKEY_free(issuer_key);
    return rc;
}

int pki_thumbprints(const char *cert_path, char sha1[41], char sha256[65])
{
    X509 *cert = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    read_pem(cert_path, &cert, NULL);
    if (cert == NULL)
        return -1;
    int rc = -1;
    if (X509_digest(cert, EVP_sha1(), md, &n) == 1 && n == 20) {
        app_hex(md, n, sha1);
        if (X509_digest(cert, EVP_sha256(), md, &n) == 1 && n == 32) {
            app_hex(md, n, sha256);
            rc = 0;
        }
    }
    X509_free(cert);
    return rc;
}
