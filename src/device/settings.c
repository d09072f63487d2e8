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

int iotc_client_on_command(struct iotc_client *c, const char *name, iotc_command_fn fn, void *user)
{
    struct iotc__cmd_handler **pp, *h;
    int rc = IOTC_OK;

    pthread_mutex_lock(&c->lock);
    pp = &c->cmd_handlers;
    for (h = *pp; h != NULL; h = *pp) {
        if (str_eq_opt(h->name, name))
            break;
        pp = &h->next;
    }
    if (h != NULL && fn == NULL) {
        *pp = h->next;
        free(h->name);
        free(h);
    } else if (h != NULL) {
        h->fn = fn;
        h->user = user;
    } else if (fn != NULL) {
        h = iotc__calloc(1, sizeof(*h));
        if (h != NULL && name != NULL) {
            h->name = iotc__strdup(name);
            if (h->name == NULL) {
                free(h);
                h = NULL;
            }
        }
        if (h == NULL) {
            rc = IOTC_E_NOMEM;
        } else {
            h->fn = fn;
            h->user = user;
            *pp = h;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int iotc_client_on_property(struct iotc_client *c, const char *component, const char *name,
                            iotc_property_fn fn, void *user)
{
    struct iotc__prop_handler **pp, *h;
    int rc = IOTC_OK;

    pthread_mutex_lock(&c->lock);
    pp = &c->prop_handlers;
    for (h = *pp; h != NULL; h = *pp) {
        if (str_eq_opt(h->component, component) && str_eq_opt(h->name, name))
            break;
        pp = &h->next;
    }
    if (h != NULL && fn == NULL) {
        *pp = h->next;
        free(h->component);
        free(h->name);
        free(h);
    } else if (h != NULL) {
        h->fn = fn;
        h->user = user;
    } else if (fn != NULL) {
        h = iotc__calloc(1, sizeof(*h));
        if (h != NULL) {
            h->component = iotc__strdup(component);
            h->name = iotc__strdup(name);
            if ((component && !h->component) || (name && !h->name)) {
                free(h->component);
                free(h->name);
                free(h);
                h = NULL;
            }
        }
        if (h == NULL) {
            rc = IOTC_E_NOMEM;
        } else {
            h->fn = fn;
            h->user = user;
            *pp = h;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
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
