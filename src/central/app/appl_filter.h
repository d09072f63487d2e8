/*
 * appl_filter.h - $filter and $orderby of GET /api/devices: the OData subset IoT Central
 * documents for device lists, compiled once per request and matched against each device.
 *
 * Pure: no I/O, no clock, no allocation. A compiled filter owns copies of its string literals, so
 * the text it was parsed from may go away. Anything outside the subset is an error whose message
 * names the part that is not supported (the REST layer answers it with 400).
 *
 * Grammar (keywords and field names case-insensitive, string literals case-sensitive):
 *   expr    = and-expr *( "or" and-expr )
 *   and-expr= primary *( "and" primary )
 *   primary = "(" expr ")"
 *           | field op literal                           op: eq ne lt le gt ge
 *           | "contains(" strfield "," string ")"
 *           | "indexof(" strfield "," string ")" op integer
 *   field   = id | displayName | template (strings; eq/ne also null)
 *           | enabled | provisioned | simulated (booleans; eq/ne true/false)
 *           | scopes (an organization of the device; eq/ne a string)
 */
#ifndef CENTRAL_APPL_FILTER_H
#define CENTRAL_APPL_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVFILTER_MAX_TEXT 2048 /* longest $filter accepted */
#define DEVFILTER_MAX_NODES 64  /* comparisons + and/or in one filter */

struct devfilter_node {
    uint8_t kind;  /* enum in appl_filter.c */
    uint8_t field; /* enum in appl_filter.c */
    uint8_t op;    /* eq ne lt le gt ge */
    bool bval;     /* boolean literal */
    int64_t ival;  /* indexof's right side */
    uint16_t str_off, str_len;
    int16_t left, right; /* and / or children */
};

/** A compiled $filter. root < 0: no filter, every device matches. */
struct devfilter {
    struct devfilter_node nodes[DEVFILTER_MAX_NODES];
    size_t n_nodes;
    int root;
    char strings[DEVFILTER_MAX_TEXT]; /* unescaped string literals, back to back */
    size_t strings_len;
};

/** What a filter sees of a device: the values its JSON shows. All pointers borrowed. */
struct devfilter_device {
    const char *id;
    const char *display_name; /**< as shown (the id when none was set); never NULL */
    const char *template_id;  /**< NULL: unassociated */
    bool enabled, provisioned, simulated;
    const char *const *orgs; /**< the device's organizations */
    size_t n_orgs;
};

/**
 * Compile @p text (@p len bytes, not NUL-terminated necessarily). Empty or blank text compiles
 * to "match all". @return 0, or -1 with a message in @p err naming the unsupported or malformed
 * part (e.g. "unsupported function 'startswith'").
 */
int devfilter_parse(struct devfilter *f, const char *text, size_t len, char *err, size_t err_size);

/** True when @p d passes @p f. */
bool devfilter_match(const struct devfilter *f, const struct devfilter_device *d);

/**
 * Parse $orderby: "displayName", optionally followed by "asc" or "desc" (the one order IoT Central
 * documents for device lists). @return 0 (*out_desc set), or -1 with a message in @p err.
 */
int devorder_parse(const char *text, size_t len, bool *out_desc, char *err, size_t err_size);

#endif /* CENTRAL_APPL_FILTER_H */
