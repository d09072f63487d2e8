/*
 * alloc.h - every allocation of the device client goes through these wrappers so that tests can
 * make the Nth allocation fail (iotc__alloc_fail_at) and check that each failure is handled.
 */
#ifndef IOTC_DEVICE_ALLOC_H
#define IOTC_DEVICE_ALLOC_H

#include <stddef.h>

void *iotc__malloc(size_t n);
void *iotc__calloc(size_t n, size_t size);
char *iotc__strdup(const char *s); /* NULL in, NULL out (not a failure) */
char *iotc__strndup(const char *s, size_t n);

/*
 * Test hook: make the allocation numbered @p n (1 = the next one) and every later one fail
 * when @p sticky, or only that one otherwise; 0 disables. Not thread-safe; tests only.
 */
void iotc__alloc_fail_at(unsigned long n, int sticky);

/* Number of allocations made through the wrappers since the last iotc__alloc_fail_at(). */
unsigned long iotc__alloc_count(void);

#endif
