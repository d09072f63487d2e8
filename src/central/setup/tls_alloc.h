/*
 * tls_alloc.h - OpenSSL's allocator for iotc-central: a small cache of freed TLS record buffers
 * for the thread that installs it (the event loop).
 */
#ifndef CENTRAL_TLS_ALLOC_H
#define CENTRAL_TLS_ALLOC_H

/**
 * Route OpenSSL's allocations through tls_alloc.c. Call first in main(), before anything
 * else uses OpenSSL (OpenSSL refuses once it has allocated); the calling thread becomes the one
 * whose record buffers are cached. Other threads allocate as before. @return 0, or -1 when
 * OpenSSL had already allocated (nothing changes then).
 */
int tls_alloc_install(void);

#endif /* CENTRAL_TLS_ALLOC_H */
