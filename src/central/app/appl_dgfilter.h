/*
 * appl_dgfilter.h - the filter of a device group, in the form IoT Central's device groups API
 * documents: SELECT * FROM devices WHERE $template = "dtmi:..." AND $provisioned = true.
 *
 * Pure: the text is translated, condition by condition, into the OData subset of
 * appl_filter.h and compiled there, so one matcher (devfilter_match) serves both the device list's
 * $filter and device groups. Anything outside the subset is refused with a message naming it.
 *
 * Grammar (keywords and $fields case-insensitive, string literals case-sensitive):
 *   query = "SELECT" "*" "FROM" "devices" [ "WHERE" cond ]
 *   cond  = and *( "OR" and ),  and = prim *( "AND" prim )
 *   prim  = "(" cond ")" | field ( "=" | "!=" | "<>" ) value
 *   field = $id | $displayName | $template   (a "string" or 'string'; $template also null)
 *         | $provisioned | $simulated | $enabled   (true / false)
 */
#ifndef CENTRAL_APPL_DGFILTER_H
#define CENTRAL_APPL_DGFILTER_H

#include <stddef.h>

#include "central/app/appl_filter.h"

#define DGFILTER_MAX_TEXT 1024 /* longest device group filter accepted */

/**
 * Compile the device group filter @p text (@p len bytes) into @p f.
 * @return 0, or -1 with a message in @p err naming the unsupported or malformed part.
 */
int dgfilter_parse(struct devfilter *f, const char *text, size_t len, char *err, size_t err_size);

#endif /* CENTRAL_APPL_DGFILTER_H */
