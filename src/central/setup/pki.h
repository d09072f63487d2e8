/*
 * pki.h - the local certificate authority, mkcert style: an ECDSA P-256 self-signed CA and a
 * server certificate it signs for localhost, 127.0.0.1, ::1 and extra names.
 */
#ifndef CENTRAL_PKI_H
#define CENTRAL_PKI_H

#include <stdbool.h>
#include <stddef.h>

/**
 * Create DIR/ca.pem + DIR/ca-key.pem (0600) when absent, then make sure DIR/server.pem +
 * DIR/server-key.pem (0600) exist and cover "localhost", "127.0.0.1", "::1" and every name in
 * @p names (DNS names or IP literals); a missing or non-covering server certificate is
 * re-issued from the CA. @return 0 or -1 (logged).
 */
int pki_ensure(const char *dir, const char *const *names, size_t n_names);

/** A development certificate to issue (X.509 devices; `iotc-central certs`). */
struct pki_req {
    const char *cert_path;   /**< PEM certificate written here */
    const char *key_path;    /**< PEM private key (ECDSA P-256) written here, 0600 */
    const char *cn;          /**< subject CN: device id, CA name or verification code */
    const char *issuer_cert; /**< signing CA (PEM certificate and key); NULL: self-signed */
    const char *issuer_key;
    long start_s; /**< notBefore relative to now (seconds; negative: in the past) */
    long days;    /**< notAfter = notBefore + 1 h + days */
    bool ca;      /**< a CA (keyCertSign) rather than a client (clientAuth) certificate */
};

/** Issue @p req (new key, then certificate). @return 0 or -1 (logged). */
int pki_issue(const struct pki_req *req);

/** Hex SHA-1 and SHA-256 thumbprints of the PEM certificate at @p cert_path. 0 / -1. */
int pki_thumbprints(const char *cert_path, char sha1[41], char sha256[65]);

#endif /* CENTRAL_PKI_H */
