/*
 * store_backup.h - `iotc-central backup` and `restore`: a whole data directory in one file.
 *
 * The backup file is an SQLite database: an online, consistent copy of DIR/central.db made
 * with SQLite's backup API (one read transaction, so a running server keeps writing) plus two
 * tables of its own:
 *
 *     iotc_backup(key TEXT PRIMARY KEY, value TEXT)       format, version, created, software
 *     iotc_backup_files(name TEXT PRIMARY KEY, mode INTEGER, data BLOB)
 *                                                         every other file a server needs
 *
 * The files are the regular files of DIR but the database itself and what a running server
 * makes for the time it runs (store_backup_wants()): app.json, admin-token, ca.pem,
 * ca-key.pem, server.pem, server-key.pem today, and whatever a later version adds. Restoring
 * writes DIR/central.db from the backup (SQLite's backup API again), drops the two tables from
 * it, writes the files 0600 and checks the database (PRAGMA quick_check).
 */
#ifndef CENTRAL_STORE_BACKUP_H
#define CENTRAL_STORE_BACKUP_H

#include <stdbool.h>
#include <stddef.h>

/** iotc_backup's "format" value: what makes a file a backup of ours. */
#define STORE_BACKUP_FORMAT "iotc-central-backup"
/** iotc_backup's "version": the layout above. */
#define STORE_BACKUP_VERSION 1

/** What a backup or a restore did, for the command's report. */
struct store_backup_info {
    long long db_pages;  /**< pages of central.db copied */
    long long db_bytes;  /**< their size */
    int files;           /**< other files */
    long long devices;   /**< rows of the devices table */
    long long telemetry; /**< rows of the telemetry table */
    char created[32];    /**< when the backup was taken (UTC, ISO 8601) */
};

/**
 * Copy @p data_dir into the new file @p to (mode 0600; written under a temporary name and
 * moved into place, so @p to is never half-written). @p force: replace an existing @p to.
 * @return CE_OK; CE_INVALID for bad input (no application in @p data_dir, @p to exists,
 * its directory missing) or CE_IO / CE_STORE when the copy failed; @p err says why.
 */
int store_backup(const char *data_dir, const char *to, bool force, struct store_backup_info *info,
                 char *err, size_t err_size);

/**
 * Make @p data_dir (missing or empty; created mode 0700) from the backup file @p from.
 * Nothing is left in @p data_dir when it fails. @return CE_OK; CE_INVALID for bad input
 * (@p from missing or not a backup, @p data_dir not empty) or CE_IO / CE_STORE.
 */
int store_restore(const char *from, const char *data_dir, struct store_backup_info *info, char *err,
                  size_t err_size);

/** Whether a backup takes the data dir's file @p name (not central.db, its -wal/-shm,
 * serve.pid, ports.json, temporary files or anything but a plain name). Pure. */
bool store_backup_wants(const char *name);

#endif
