/*
 * mqtt_topic.c - MQTT UTF-8 strings, topic names, topic filters and matching (MQTT 3.1.1, OASIS
 * standard, §1.5.3, §4.7).
 */
#include "proto/mqtt.h"

#include "proto/strbuf.h"

#include <string.h>

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

int iotc_mqtt_utf8_validate(struct iotc_span s)
{
    if (s.len == 0)
        return IOTC_OK; /* and no arithmetic on a possibly NULL ptr */
    if (s.len > IOTC_MQTT_MAX_STRING)
        return IOTC_E_MALFORMED;
    const uint8_t *p = (const uint8_t *)s.ptr, *end = p + s.len;
    while (p < end) {
        /* Fast path: 8 ASCII bytes, none of them NUL (topics and ids are mostly ASCII). */
        if (end - p >= 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            if (((v | ((v - ONES) & ~v)) & HIGHS) == 0) {
                p += 8;
                continue;
            }
        }
        uint8_t c = *p;
        if (c < 0x80) {
            if (c == 0)
                return IOTC_E_MALFORMED; /* §1.5.3: U+0000 forbidden */
            p++;
            continue;
        }
        size_t n = iotc__utf8_seq(p, (size_t)(end - p));
        if (n == 0)
            return IOTC_E_MALFORMED;
        p += n;
    }
    return IOTC_OK;
}

int iotc_mqtt_topic_validate(struct iotc_span topic)
{
    /* '+' and '#' are ASCII, so they never occur inside a multi-byte sequence. */
    if (topic.len == 0 || memchr(topic.ptr, '+', topic.len) || memchr(topic.ptr, '#', topic.len))
        return IOTC_E_MALFORMED;
    return iotc_mqtt_utf8_validate(topic);
}

int iotc_mqtt_filter_validate(struct iotc_span filter)
{
    const char *p = filter.ptr;
    size_t n = filter.len;
    if (n == 0)
        return IOTC_E_MALFORMED;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '+' && p[i] != '#')
            continue;
        bool starts_level = i == 0 || p[i - 1] == '/';
        /* §4.7.1.2: '#' alone and last; §4.7.1.3: '+' alone in its level */
        bool ok = p[i] == '#' ? starts_level && i + 1 == n
                              : starts_level && (i + 1 == n || p[i + 1] == '/');
        if (!ok)
            return IOTC_E_MALFORMED;
    }
    return iotc_mqtt_utf8_validate(filter);
}

static size_t level_end(const char *p, size_t from, size_t n)
{
    const char *slash = from < n ? memchr(p + from, '/', n - from) : NULL;
    return slash ? (size_t)(slash - p) : n;
}

bool iotc_mqtt_topic_matches(struct iotc_span filter, struct iotc_span topic)
{
    const char *f = filter.ptr, *t = topic.ptr;
    size_t fn = filter.len, tn = topic.len, fi = 0, ti = 0;
    /* §4.7.2: "$..." topics are not matched by a filter starting with a wildcard */
    if (fn > 0 && tn > 0 && t[0] == '$' && (f[0] == '+' || f[0] == '#'))
        return false;
    for (;;) {
        /* fi and ti each point at the start of a level */
        if (fi < fn && f[fi] == '#')
            return true;
        size_t fe = level_end(f, fi, fn), te = level_end(t, ti, tn);
        bool plus = fe - fi == 1 && f[fi] == '+';
        if (!plus && (fe - fi != te - ti || (fe > fi && memcmp(f + fi, t + ti, fe - fi) != 0)))
            return false;
        if (te == tn) {
            /* topic exhausted: match if the filter is too, or only "/#" is left
             * ("sport/#" matches "sport", §4.7.1.2) */
            return fe == fn || (fn - fe == 2 && f[fe + 1] == '#');
        }
        if (fe == fn)
            return false;
        fi = fe + 1;
        ti = te + 1;
    }
}
