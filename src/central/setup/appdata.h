/*
 * appdata.h - the application's data directory: facts in app.json, certificates, TLS context.
 */
#ifndef CENTRAL_APPDATA_H
#define CENTRAL_APPDATA_H

#include <stdbool.h>
#include <stdio.h>

#include "central/base/app.h"

/**
 * Read up to @p size - 1 bytes of the file at @p path into @p buf and end them with '\0' (a
 * small file: app.json, ports.json). @return 0, or -1 when it cannot be opened.
 */
int app_read_file(const char *path, char *buf, size_t size);

/** Fill @p cfg with defaults (ports 8883/8443, plain MQTT off, hub host NULL = keep). */
void app_config_defaults(struct app_config *cfg);

/**
 * Load DATA_DIR/app.json into app->facts, or create the application when absent (new ID
 * scope, group keys, service key, admin token) and write it, with the admin token in
 * DATA_DIR/admin-token (0600; app.json keeps only its hash). The dir is made 0700 and its files
 * 0600. The certificates are (re)issued as needed (pki_ensure).
 * @return 0 (and *out_created), or -1 (logged).
 */
int app_data_open(struct app *app, bool *out_created);

/**
 * Replace the admin token of the application in @p dir: a new token's hash into app.json, then
 * the token into DIR/admin-token (both atomically, 0600). A running server adopts the new hash
 * on app_admin_token_reload. *out_id = the new hash's id (app_admin_token_id).
 * @return 0 or -1 (logged).
 */
int app_admin_token_rotate(const char *dir, char out_id[9]);

/**
 * Re-read the admin token hash from app.json into app->facts (after a rotation by another
 * process). @return 1 changed, 0 unchanged, -1 unreadable (logged; the hash in force stays).
 */
int app_admin_token_reload(struct app *app);

/** The first 8 hex digits of the admin token hash: names a token without revealing it. */
void app_admin_token_id(const struct app_facts *f, char out[9]);

/**
 * Set both keys of app.json's enrollment group (app->facts.group_id). app.json is rewritten
 * atomically (temp file, fsync, rename, mode 0600) before app->facts changes, so a failure leaves
 * the old keys in force. Devices already registered keep the derived keys stored in the
 * registry. Loop thread. @return 0 or -1 (logged).
 */
int app_group_keys_set(struct app *app, const char *primary, const char *secondary);

/**
 * Make sure only one server uses @p dir: create it if needed (0700) and take an exclusive
 * flock on DIR/serve.pid, writing this process's pid there. The lock lasts as long as the
 * returned descriptor is open (the process's life; it dies with the process, even on SIGKILL).
 * @return the descriptor (caller closes, with app_data_unlock), -1 when another process holds
 * the lock (*out_holder = its pid from the file, 0 if unknown; nothing logged), or -2 on any
 * other error (logged).
 */
int app_data_lock(const char *dir, long *out_holder);

/** Empty DIR/serve.pid and release the lock taken by app_data_lock (@p fd < 0: no-op). */
void app_data_unlock(int fd);

/** Build app->ssl_ctx from server.pem/server-key.pem. @return 0 or -1 (logged). */
int app_tls_init(struct app *app);

/** Compute app->assigned_hub (host, or host:port when the MQTT port is not 8883). */
void app_set_assigned_hub(struct app *app);

/** Print the device-facing facts (`show`), human or JSON form. */
void app_show(const struct app *app, FILE *out, bool json);

/** Free everything app_config/app_data_open allocated (not the loop or store). */
void app_release(struct app *app);

#endif /* CENTRAL_APPDATA_H */
