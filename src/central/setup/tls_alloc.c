/*
 * tls_alloc.c - OpenSSL's allocator for iotc-central.
 *
 * An idle TLS connection gives its record buffers back (SSL_MODE_RELEASE_BUFFERS, for memory
 * per connection), so at one message in flight each message takes a read buffer and a write
 * buffer of ~17 KB from malloc and returns them: two large allocations whose free and the next
 * malloc make glibc consolidate its fast bins, about 1,100 instructions per message
 * (bench/ingest_callgrind.sh). Here the loop thread keeps up to TLS_ALLOC_KEEP freed blocks
 * of that size class and hands them out again; the memory of idle connections is unchanged
 * and the cache holds at most TLS_ALLOC_KEEP * TLS_ALLOC_BLOCK bytes. Blocks are ordinary
 * malloc() blocks of TLS_ALLOC_BLOCK bytes, so any thread may free or realloc them.
 */
#include "central/setup/tls_alloc.h"

#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#define TLS_ALLOC_MIN 16384   /* requests from here ... */
#define TLS_ALLOC_BLOCK 17408 /* ... to here get a block of this size: record buffers */
#define TLS_ALLOC_KEEP 8

static pthread_t owner;
static bool installed;
static void *kept[TLS_ALLOC_KEEP]; /* owner thread only */
static int n_kept;

static bool is_owner(void)
{
    return installed && pthread_equal(pthread_self(), owner);
}

static void *tls_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    if (n < TLS_ALLOC_MIN || n > TLS_ALLOC_BLOCK)
        return malloc(n);
    if (n_kept > 0 && is_owner())
        return kept[--n_kept];
    return malloc(TLS_ALLOC_BLOCK);
}

static void tls_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    if (p == NULL)
        return;
    if (n_kept < TLS_ALLOC_KEEP && is_owner()) {
        size_t cap = malloc_usable_size(p);
        if (cap >= TLS_ALLOC_BLOCK && cap < TLS_ALLOC_BLOCK + 64) {
            kept[n_kept++] = p;
            return;
        }
    }
    free(p);
}

static void *tls_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    if (p == NULL)
        return tls_malloc(n, file, line);
    return realloc(p, n);
}

int tls_alloc_install(void)
{
    owner = pthread_self();
    installed = true;
    if (CRYPTO_set_mem_functions(tls_malloc, tls_realloc, tls_free) != 1) {
        installed = false;
        return -1;
    }
    return 0;
}
