/* alloc.c - see alloc.h. */
#include "device/alloc.h"

#include <stdlib.h>
#include <string.h>

static unsigned long alloc_calls;
static unsigned long alloc_fail_n;
static int alloc_fail_sticky;

static int should_fail(void)
{
    alloc_calls++;
    if (alloc_fail_n == 0)
        return 0;
    if (alloc_calls == alloc_fail_n)
        return 1;
    return alloc_fail_sticky && alloc_calls > alloc_fail_n;
}

void *iotc__malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *iotc__calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

char *iotc__strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *d = iotc__malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *iotc__strdup(const char *s)
{
    return s ? iotc__strndup(s, strlen(s)) : NULL;
}

void iotc__alloc_fail_at(unsigned long n, int sticky)
{
    alloc_calls = 0;
    alloc_fail_n = n;
    alloc_fail_sticky = sticky;
}

unsigned long iotc__alloc_count(void)
{
    return alloc_calls;
}
