/*
 * twin.h - device twins (docs/PROTOCOL.md §5.6 device side, §6.3 service side). Loop thread only.
 *
 * Versions: desired and reported each carry a strictly increasing $version starting at 1; the
 * whole twin has an etag that changes on every change (tags, desired, reported).
 */
#ifndef CENTRAL_TWIN_H
#define CENTRAL_TWIN_H

#include <cjson/cJSON.h>

#include "central/hub/registry.h"

/**
 * Full service-view twin (docs/PROTOCOL.md §5.6, "Full twin"): deviceId, etag, deviceEtag, status,
 * statusReason, statusUpdateTime, connectionState, lastActivityTime, cloudToDeviceMessageCount,
 * authenticationType, x509Thumbprint, modelId, version, tags, properties.desired/reported with
 * $metadata and $version. @return new object (caller cJSON_Delete) or NULL on allocation failure.
 */
cJSON *twin_to_service_json(const struct device *dev);

/** The twin etag text (without quotes), e.g. "AAAAAAAAAAM=". */
void twin_etag(const struct device *dev, char out[32]);

/**
 * Service-side update (PATCH /twins/{id}, or a full replacement with @p replace): merge
 * @p desired_patch into desired (null deletes) and @p tags_patch into tags; either may be NULL.
 * @p if_match: NULL or "*" = unconditional; otherwise the etag, with or without quotes.
 * A desired change bumps desired $version and is pushed to the device if it is connected and
 * subscribed to desired patches. Persisted through the store.
 * @return CE_OK, CE_ETAG (412), CE_INVALID (not objects / over limits), CE_NOMEM.
 */
int twin_update(struct app *app, struct device *dev, const cJSON *tags_patch,
                const cJSON *desired_patch, const char *if_match, bool replace);

/* Device side (used by the broker). */

/** {"desired":{...,"$version":n},"reported":{...,"$version":m}} as text; caller frees. */
char *twin_device_get_text(const struct device *dev);

/**
 * Merge a reported-properties patch (JSON object text) from the device; null deletes.
 * @return CE_OK (*out_version = new reported $version), CE_INVALID (400), CE_NOMEM.
 */
int twin_patch_reported(struct app *app, struct device *dev, const char *json, size_t len,
                        int64_t *out_version);

#endif /* CENTRAL_TWIN_H */
