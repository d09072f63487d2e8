/*
 * settings.c - the client's settings and registrations: log and state callbacks, command and
 * writable-property handlers, counters and identity. Every function takes the client lock.
 */
#include "device/client_int.h"

#include <stdlib.h>
#include <string.h>

#include "device/alloc.h"

/* ---------------------------------------------------------------------------------------- */
/* Settings and handlers                                                                     */
/* ---------------------------------------------------------------------------------------- */

void iotc_client_set_log(struct iotc_client *c, iotc_log_fn fn, void *user,
                         enum iotc_log_level max_level)
{
    pthread_mutex_lock(&c->lock);
    c->log_fn = fn;
    c->log_user = user;
    c->log_level = max_level;
    pthread_mutex_unlock(&c->lock);
}

void iotc_client_set_state_cb(struct iotc_client *c, iotc_state_fn fn, void *user)
{
    pthread_mutex_lock(&c->lock);
    c->state_fn = fn;
    c->state_user = user;
    pthread_mutex_unlock(&c->lock);
}

enum iotc_state iotc_client_state(struct iotc_client *c)
{
    pthread_mutex_lock(&c->lock);
    enum iotc_state s = c->state;
    pthread_mutex_unlock(&c->lock);
    return s;
}

static bool str_eq_opt(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

struct iotc__handler *iotc__handler_find(struct iotc__handler *list, const char *component,
                                         const char *name)
{
    struct iotc__handler *def = NULL;
    for (struct iotc__handler *h = list; h; h = h->next) {
        if (!str_eq_opt(h->component, component))
            continue;
        if (h->name == NULL)
            def = h;
        else if (strcmp(h->name, name) == 0)
            return h;
    }
    return def;
}

static void handler_free(struct iotc__handler *h)
{
    free(h->component);
    free(h->name);
    free(h);
}

void iotc__handlers_free(struct iotc__handler **list)
{
    while (*list) {
        struct iotc__handler *h = *list;
        *list = h->next;
        handler_free(h);
    }
}

/* Register, replace (same component and name) or, with set false, remove a handler. */
static int set_handler(struct iotc_client *c, struct iotc__handler **list, const char *component,
                       const char *name, bool set, const struct iotc__handler *with)
{
    struct iotc__handler **pp, *h;
    int rc = IOTC_OK;

    pthread_mutex_lock(&c->lock);
    pp = list;
    for (h = *pp; h != NULL; h = *pp) {
        if (str_eq_opt(h->component, component) && str_eq_opt(h->name, name))
            break;
        pp = &h->next;
    }
    if (h != NULL && !set) {
        *pp = h->next;
        handler_free(h);
    } else if (h != NULL) {
        h->fn = with->fn;
        h->user = with->user;
    } else if (set) {
        h = iotc__calloc(1, sizeof(*h));
        if (h != NULL) {
            h->component = iotc__strdup(component);
            h->name = iotc__strdup(name);
            if ((component && !h->component) || (name && !h->name)) {
                handler_free(h);
                h = NULL;
            }
        }
        if (h == NULL) {
            rc = IOTC_E_NOMEM;
        } else {
            h->fn = with->fn;
            h->user = with->user;
            *pp = h;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int iotc_client_on_command(struct iotc_client *c, const char *name, iotc_command_fn fn, void *user)
{
    struct iotc__handler with = {.fn.cmd = fn, .user = user};
    return set_handler(c, &c->cmd_handlers, NULL, name, fn != NULL, &with);
}

int iotc_client_on_property(struct iotc_client *c, const char *component, const char *name,
                            iotc_property_fn fn, void *user)
{
    struct iotc__handler with = {.fn.prop = fn, .user = user};
    return set_handler(c, &c->prop_handlers, component, name, fn != NULL, &with);
}

int iotc_client_get_stats(struct iotc_client *c, struct iotc_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    out->dropped = c->queue.overflowed;
    out->queue_len = c->queue.count;
    out->queue_bytes = c->queue.bytes;
    pthread_mutex_unlock(&c->lock);
    return IOTC_OK;
}

static int copy_out(const char *s, char *buf, size_t size)
{
    if (buf == NULL)
        return IOTC_OK;
    size_t n = strlen(s);
    if (n + 1 > size)
        return IOTC_E_NOSPACE;
    memcpy(buf, s, n + 1);
    return IOTC_OK;
}

int iotc_client_get_identity(struct iotc_client *c, char *device_id, size_t id_size, char *hub_host,
                             size_t host_size)
{
    int rc;

    pthread_mutex_lock(&c->lock);
    if (c->hub_host == NULL || c->device_id == NULL) {
        rc = IOTC_E_NOTFOUND;
    } else {
        rc = copy_out(c->device_id, device_id, id_size);
        if (rc == IOTC_OK)
            rc = copy_out(c->hub_host, hub_host, host_size);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int iotc_client_on_c2d(struct iotc_client *c, iotc_c2d_fn fn, void *user)
{
    pthread_mutex_lock(&c->lock);
    c->c2d_fn = fn;
    c->c2d_user = user;
    pthread_mutex_unlock(&c->lock);
    return IOTC_OK;
}
