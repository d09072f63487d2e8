/*
 * pki.h - the local certificate authority, mkcert style: an ECDSA P-256 self-signed CA and a
 * server certificate it signs for localhost, 127.0.0.1, ::1 and extra names.
 */
#ifndef CENTRAL_PKI_H
#define CENTRAL_PKI_H

#include <stddef.h>

/**
 * Create DIR/ca.pem + DIR/ca-key.pem (0600) when absent, then make sure DIR/server.pem +
 * DIR/server-key.pem (0600) exist and cover "localhost", "127.0.0.1", "::1" and every name in
 * @p names (DNS names or IP literals); a missing or non-covering server certificate is
 * re-issued from the CA. @return 0 or -1 (logged).
 */
int pki_ensure(const char *dir, const char *const *names, size_t n_names);

#endif /* CENTRAL_PKI_H */
