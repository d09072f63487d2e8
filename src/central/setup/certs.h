/*
 * certs.h - `iotc-central certs`: development certificates for X.509 devices (certs.c).
 */
#ifndef CENTRAL_CERTS_H
#define CENTRAL_CERTS_H

/** Run `certs` with its arguments (after the word "certs"). @return the exit code. */
int certs_main(int argc, char **argv);

#endif /* CENTRAL_CERTS_H */
