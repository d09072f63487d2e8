/*
 * test_mqtt_topic.c - MQTT UTF-8 strings, topic name / filter validation and matching
 * (MQTT 3.1.1 §1.5.3, §4.7), including the spec's own examples.
 */
#include "proto/mqtt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#define L(lit) IOTC_SPAN_LIT(lit)

/* "c3 a9" -> bytes; returns the count */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        char pair[3] = {s[0], s[1], 0};
        assert_true(n < cap && s[1] != 0);
        out[n++] = (uint8_t)strtoul(pair, NULL, 16);
        s += 2;
    }
    return n;
}

static struct iotc_span bspan(const uint8_t *p, size_t n)
{
    return (struct iotc_span){(const char *)p, n};
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int rc;
    } cases[] = {
        {"", IOTC_OK},
        {"61 62 63 64 65 66 67 68 69 6a 6b", IOTC_OK},
        {"7f", IOTC_OK},
        {"c2 80", IOTC_OK},
        {"df bf", IOTC_OK},
        {"e0 a0 80", IOTC_OK},
        {"ed 9f bf", IOTC_OK}, /* U+D7FF */
        {"ee 80 80", IOTC_OK}, /* U+E000 */
        {"ef bf bf", IOTC_OK}, /* U+FFFF: a noncharacter, allowed (§1.5.3 SHOULD NOT only) */
        {"f0 90 80 80", IOTC_OK},
        {"f4 8f bf bf", IOTC_OK}, /* U+10FFFF */
        {"61 62 63 64 65 66 67 c3 a9 61", IOTC_OK},
        {"00", IOTC_E_MALFORMED},
        {"61 62 63 64 65 66 67 68 00 61", IOTC_E_MALFORMED},
        {"61 62 63 00 65 66 67 68 69 6a", IOTC_E_MALFORMED},
        {"80", IOTC_E_MALFORMED},
        {"bf", IOTC_E_MALFORMED},
        {"c0 80", IOTC_E_MALFORMED}, /* overlong NUL */
        {"c1 bf", IOTC_E_MALFORMED},
        {"c2", IOTC_E_MALFORMED},
        {"c2 41", IOTC_E_MALFORMED},
        {"e0 80 80", IOTC_E_MALFORMED}, /* overlong */
        {"e0 9f bf", IOTC_E_MALFORMED},
        {"ed a0 80", IOTC_E_MALFORMED}, /* U+D800 */
        {"ed bf bf", IOTC_E_MALFORMED}, /* U+DFFF */
        {"e1 80", IOTC_E_MALFORMED},
        {"e1 80 41", IOTC_E_MALFORMED},
        {"f0 80 80 80", IOTC_E_MALFORMED},
        {"f0 8f bf bf", IOTC_E_MALFORMED},
        {"f4 90 80 80", IOTC_E_MALFORMED}, /* > U+10FFFF */
        {"f5 80 80 80", IOTC_E_MALFORMED},
        {"f1 80 80", IOTC_E_MALFORMED},
        {"f1 80 80 c0", IOTC_E_MALFORMED},
        {"fe", IOTC_E_MALFORMED},
        {"ff", IOTC_E_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[32];
        size_t n = unhex(cases[i].hex, b, sizeof(b));
        int rc = iotc_mqtt_utf8_validate(bspan(b, n));
        if (rc != cases[i].rc)
            fail_msg("utf8 '%s': rc %d want %d", cases[i].hex, rc, cases[i].rc);
    }
    assert_int_equal(IOTC_OK, iotc_mqtt_utf8_validate(IOTC_SPAN_NULL));
    static char s[65536];
    memset(s, 'a', sizeof(s));
    assert_int_equal(IOTC_OK, iotc_mqtt_utf8_validate((struct iotc_span){s, 65535}));
    assert_int_equal(IOTC_E_MALFORMED, iotc_mqtt_utf8_validate((struct iotc_span){s, 65536}));
}

static void test_topic_filter_validate(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int topic, filter;
    } cases[] = {
        {"a", IOTC_OK, IOTC_OK},
        {"/", IOTC_OK, IOTC_OK},
        {"//", IOTC_OK, IOTC_OK},
        {"sport/tennis/player1", IOTC_OK, IOTC_OK},
        {"$SYS/x", IOTC_OK, IOTC_OK},
        {"devices/d1/messages/events/a=b&$.ct=application%2Fjson", IOTC_OK, IOTC_OK},
        {"#", IOTC_E_MALFORMED, IOTC_OK},
        {"+", IOTC_E_MALFORMED, IOTC_OK},
        {"+/+", IOTC_E_MALFORMED, IOTC_OK},
        {"/+", IOTC_E_MALFORMED, IOTC_OK},
        {"+/", IOTC_E_MALFORMED, IOTC_OK},
        {"sport/#", IOTC_E_MALFORMED, IOTC_OK},
        {"sport/+/player1", IOTC_E_MALFORMED, IOTC_OK},
        {"+/tennis/#", IOTC_E_MALFORMED, IOTC_OK},
        {"/#", IOTC_E_MALFORMED, IOTC_OK},
        {"sport/tennis#", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
        {"sport/tennis/#/ranking", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
        {"sport+", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
        {"+sport", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
        {"a/b+/c", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
        {"##", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
        {"++", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
        {"#/", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
        {"", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
        {"a\xed\xa0\x80", IOTC_E_MALFORMED, IOTC_E_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct iotc_span s = {cases[i].s, strlen(cases[i].s)};
        int t = iotc_mqtt_topic_validate(s), f = iotc_mqtt_filter_validate(s);
        if (t != cases[i].topic || f != cases[i].filter)
            fail_msg("'%s': topic %d want %d, filter %d want %d", cases[i].s, t, cases[i].topic, f,
                     cases[i].filter);
    }
    const struct iotc_span nul = {"a\0b", 3};
    assert_int_equal(IOTC_E_MALFORMED, iotc_mqtt_topic_validate(nul));
    assert_int_equal(IOTC_E_MALFORMED, iotc_mqtt_filter_validate(nul));
}

static void test_topic_match(void **state)
{
    (void)state;
    static const struct {
        const char *filter, *topic;
        bool match;
    } cases[] = {
        /* §4.7.1.2 examples */
        {"sport/tennis/player1/#", "sport/tennis/player1", true},
        {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
        {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
        {"sport/#", "sport", true},
        {"#", "sport/tennis", true},
        {"#", "/", true},
        {"sport/tennis/#", "sport/tennis", true},
        {"sport/tennis/#", "sport/tennisX", false},
        /* §4.7.1.3 examples */
        {"sport/tennis/+", "sport/tennis/player1", true},
        {"sport/tennis/+", "sport/tennis/player2", true},
        {"sport/tennis/+", "sport/tennis/player1/ranking", false},
        {"sport/+", "sport", false},
        {"sport/+", "sport/", true},
        {"+/+", "/finance", true},
        {"/+", "/finance", true},
        {"+", "/finance", false},
        {"+", "finance", true},
        {"+/#", "a", true},
        {"+/+/#", "a", false},
        {"+/+/#", "a/b", true},
        /* §4.7.2 $ topics */
        {"#", "$SYS/monitor/Clients", false},
        {"+/monitor/Clients", "$SYS/monitor/Clients", false},
        {"$SYS/#", "$SYS/monitor/Clients", true},
        {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
        {"$SYS/#", "$SYS", true},
        {"+", "$SYS", false},
        {"$iothub/methods/POST/#", "$iothub/methods/POST/reboot/?$rid=1", true},
        {"$iothub/twin/res/#", "$iothub/twin/res/200/?$rid=7", true},
        {"$iothub/twin/PATCH/properties/desired/#",
         "$iothub/twin/PATCH/properties/desired/?$version=3", true},
        {"devices/+/messages/devicebound/#", "devices/d1/messages/devicebound/%24.to=x", true},
        {"devices/d1/messages/devicebound/#", "devices/d2/messages/devicebound/x", false},
        {"a/$b", "a/$b", true},
        {"a/+", "a/$b", true}, /* only a leading $ is special */
        /* literal */
        {"a/b", "a/b", true},
        {"a/b", "a/b/", false},
        {"a/b/", "a/b", false},
        {"a/b", "a/c", false},
        {"a/b", "A/b", false},
        {"a//b", "a//b", true},
        {"a/+/b", "a//b", true},
        {"/", "/", true},
        {"a", "ab", false},
        {"ab", "a", false},
        {"a/b/c", "a/b", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct iotc_span f = {cases[i].filter, strlen(cases[i].filter)};
        struct iotc_span t = {cases[i].topic, strlen(cases[i].topic)};
        assert_int_equal(IOTC_OK, iotc_mqtt_filter_validate(f));
        assert_int_equal(IOTC_OK, iotc_mqtt_topic_validate(t));
        if (iotc_mqtt_topic_matches(f, t) != cases[i].match)
            fail_msg("match('%s', '%s') != %d", cases[i].filter, cases[i].topic, cases[i].match);
    }
    /* empty or invalid input: defined answers, no out-of-bounds reads */
    assert_true(iotc_mqtt_topic_matches(IOTC_SPAN_NULL, IOTC_SPAN_NULL));
    assert_false(iotc_mqtt_topic_matches(IOTC_SPAN_NULL, L("a")));
    assert_false(iotc_mqtt_topic_matches(L("a"), IOTC_SPAN_NULL));
    assert_false(iotc_mqtt_topic_matches(L("a/"), L("a")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_topic_filter_validate),
        cmocka_unit_test(test_topic_match),
    };
    return cmocka_run_group_tests_name("mqtt_topic", tests, NULL, NULL);
}
