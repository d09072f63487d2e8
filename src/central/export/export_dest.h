/*
 * export_dest.h - the one interface every export destination type implements (webhook@v1
 * today; Kafka and others plug in the same way). Loop thread only (a webhook@v1 instance is the
 * sender thread's proxy, export_sender.h; its libcurl work runs on that thread).
 *
 * A destination instance belongs to one pipe (one export and one destination definition), so
 * freeing it drops whatever it still had in flight without calling back: the pipe's cursor
 * did not move past those messages, and they are sent again by the next instance.
 */
#ifndef CENTRAL_EXPORT_DEST_H
#define CENTRAL_EXPORT_DEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "central/base/app.h"
#include "central/export/export_fmt.h"

struct export_dest;
struct export_sender;

/**
 * Completion of one send: @p out says acknowledged, retry later, or refused for good;
 * @p error (borrowed, NULL when acknowledged) is a one-line reason for status replies.
 * Called once per accepted send, on the loop thread, never from inside send().
 */
typedef void (*export_sent_fn)(void *ctx, enum export_outcome out, const char *error);

struct export_dest_ops {
    /** How many more sends it takes now (bounded concurrency). */
    size_t (*room)(struct export_dest *d);
    /**
     * Send one message @p body (@p len bytes, copied); @p key is the device id (partition key
     * for destinations that have one). @return CE_OK (then @p cb runs later) or CE_NOMEM/CE_BUSY.
     */
    int (*send)(struct export_dest *d, const char *key, const char *body, size_t len,
                export_sent_fn cb, void *ctx);
    /** Drop everything in flight (no callbacks) and free. */
    void (*free)(struct export_dest *d);
};

struct export_dest {
    const struct export_dest_ops *ops;
};

/**
 * A webhook@v1 instance for the checked definition @p def (export_check_destination): its
 * requests run on the sender thread @p s, its completions come back on the loop thread. Without
 * "authorization" (a rule's webhook action, rules.c) no Authorization header is sent.
 * @return CE_OK, CE_NOMEM or CE_INVALID.
 */
int export_webhook_new(struct export_sender *s, const cJSON *def, struct export_dest **out);

/**
 * A Kafka producer for a checked eventhubs@v1 or kafka@v1 definition (export_kafka_conf_of).
 * @return CE_OK, CE_NOMEM, CE_INVALID or CE_IO.
 */
int export_kafka_new(struct app *app, const cJSON *def, struct export_dest **out);

/** Process-wide libcurl set-up/tear-down (export.c calls them once). */
int export_webhook_global_init(void);
void export_webhook_global_cleanup(void);

#endif /* CENTRAL_EXPORT_DEST_H */
