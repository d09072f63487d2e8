/*
 * test_export.c - the pure part of data export (src/central/export/export_fmt.c): message
 * formats per source against IoT Central's documented shapes, the filter query, definition
 * checks, retry classification and backoff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/export/export_fmt.h"

/* 2020-08-05T22:26:55.455Z */
#define T0 1596666415455LL

static void assert_json_eq(cJSON *got, const char *want_text)
{
    cJSON *want = cJSON_Parse(want_text);
    assert_non_null(want);
    assert_non_null(got);
    if (!cJSON_Compare(got, want, true)) {
        char *g = cJSON_PrintUnformatted(got);
        fail_msg("got  %s\nwant %s", g, want_text);
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
}

/* The telemetry shape of IoT Central's export documentation: system fields, telemetry object,
 * messageProperties, enrichments, component. */
static void test_message_telemetry(void **state)
{
    (void)state;
    cJSON *enr = cJSON_Parse("{\"userSpecifiedKey\":\"sampleValue\"}");
    const char *payload = "{\"Activity\":\"running\",\"BloodPressure\":{\"Diastolic\":7,"
                          "\"Systolic\":71},\"BodyTemperature\":98.7}";
    struct export_msg_in in = {
        .source = EXPORT_SRC_TELEMETRY,
        .app_id = "1dffa667-9bee-4f16-b243-25ad4151475e",
        .device_id = "1vzb5ghlsg1",
        .template_id = "urn:qugj6vbw5:___qbj_27r",
        .component = "DeviceComponent",
        .time_ms = T0,
        .props_json = "{\"messageProp\":\"value\"}",
        .payload = payload,
        .payload_len = strlen(payload),
        .enrichments = enr,
    };
    assert_json_eq(export_message(&in),
                   "{\"applicationId\":\"1dffa667-9bee-4f16-b243-25ad4151475e\","
                   "\"messageSource\":\"telemetry\",\"deviceId\":\"1vzb5ghlsg1\","
                   "\"schema\":\"default@v1\",\"templateId\":\"urn:qugj6vbw5:___qbj_27r\","
                   "\"enqueuedTime\":\"2020-08-05T22:26:55.455Z\","
                   "\"telemetry\":{\"Activity\":\"running\",\"BloodPressure\":{\"Diastolic\":7,"
                   "\"Systolic\":71},\"BodyTemperature\":98.7},"
                   "\"messageProperties\":{\"messageProp\":\"value\"},"
                   "\"enrichments\":{\"userSpecifiedKey\":\"sampleValue\"},"
                   "\"component\":\"DeviceComponent\"}");
    /* no component, no properties, no template: those members are left out or empty */
    in.component = NULL;
    in.props_json = NULL;
    in.template_id = NULL;
    in.enrichments = NULL;
    in.payload = "{\"t\":1}";
    in.payload_len = 7;
    assert_json_eq(export_message(&in),
                   "{\"applicationId\":\"1dffa667-9bee-4f16-b243-25ad4151475e\","
                   "\"messageSource\":\"telemetry\",\"deviceId\":\"1vzb5ghlsg1\","
                   "\"schema\":\"default@v1\",\"enqueuedTime\":\"2020-08-05T22:26:55.455Z\","
                   "\"telemetry\":{\"t\":1},\"messageProperties\":{},\"enrichments\":{}}");
    cJSON_Delete(enr);
}

/* export_message_text (what the pipes send) is export_message printed, the device's object
 * spliced as received; a payload that is not exactly one object falls back to the same shape as
 * export_message (here: an empty telemetry object); a template message has no deviceId. */
static void test_message_text(void **state)
{
    (void)state;
    static const char *const payloads[] = {
        "{\"a\":1.5,\"b\":[1,2,{\"c\":null}],\"s\":\"x\\\"y\"}",
        " {\"t\": 21.25 }\n",
        "{\"t\":1} trailing",
        "[1,2]",
        "not json",
        "{\"t\":1",
        "{\"bad utf-8\":\"\xff\"}",
        "",
    };
    /* the direct writer's other inputs: escaped strings, enrichments, component, no template,
     * message properties absent or not an object */
    cJSON *enr = cJSON_Parse("{\"site\":\"B\\\"erlin\",\"n\":3,\"o\":{\"a\":[true]}}");
    static const char *const props[] = {"{\"p\":\"v\"}", NULL, "[1]", ""};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0] * 4; i++) {
        size_t v = i / (sizeof payloads / sizeof payloads[0]);
        const char *pl = payloads[i % (sizeof payloads / sizeof payloads[0])];
        struct export_msg_in in = {
            .source = EXPORT_SRC_TELEMETRY,
            .app_id = "app",
            .device_id = v == 1 ? "d\"1\\\n" : "d1",
            .template_id = v == 2 ? NULL : "dtmi:x;1",
            .component = v == 1   ? "c\t1"
                         : v == 3 ? ""
                                  : NULL,
            .time_ms = T0,
            .props_json = props[v],
            .payload = pl,
            .payload_len = strlen(pl),
            .enrichments = v % 2 == 1 ? enr : NULL,
        };
        char *text = export_message_text(&in);
        assert_non_null(text);
        cJSON *got = cJSON_Parse(text);
        if (got == NULL)
            fail_msg("payload %zu: not JSON: %s", i, text);
        cJSON *want = export_message(&in);
        if (!cJSON_Compare(got, want, true))
            fail_msg("payload %zu: %s differs from export_message", i, text);
        cJSON_Delete(got);
        cJSON_Delete(want);
        free(text);
    }
    cJSON_Delete(enr);
    struct export_msg_in t = {.source = EXPORT_SRC_TEMPLATE_LIFECYCLE,
                              .app_id = "app",
                              .device_id = "",
                              .template_id = "dtmi:x;1",
                              .type = "created",
                              .time_ms = T0};
    assert_json_eq(export_message(&t),
                   "{\"applicationId\":\"app\",\"messageSource\":\"deviceTemplateLifecycle\","
                   "\"messageType\":\"created\",\"schema\":\"default@v1\","
                   "\"templateId\":\"dtmi:x;1\",\"enqueuedTime\":\"2020-08-05T22:26:55.455Z\","
                   "\"enrichments\":{}}");
}

struct patch_vec {
    const char *type;
    const char *patch;
    const char *want_properties;
};
static const struct patch_vec patch_vecs[] = {
    {"devicePropertyReportedChange", "{\"fw\":\"1.2\",\"$version\":4}",
     "[{\"name\":\"fw\",\"value\":\"1.2\"}]"},
    /* a writable property's acknowledgement: the value is what changed */
    {"devicePropertyReportedChange",
     "{\"targetTemperature\":{\"value\":25,\"ac\":200,\"av\":3,\"ad\":\"ok\"}}",
     "[{\"name\":\"targetTemperature\",\"value\":25}]"},
    /* a component's properties, flattened with their component */
    {"devicePropertyReportedChange",
     "{\"thermostat1\":{\"__t\":\"c\",\"maxTempSinceLastReboot\":30.5},\"serial\":\"x\"}",
     "[{\"name\":\"maxTempSinceLastReboot\",\"value\":30.5,\"component\":\"thermostat1\"},"
     "{\"name\":\"serial\",\"value\":\"x\"}]"},
    /* an object-valued property stays an object */
    {"devicePropertyDesiredChange", "{\"cfg\":{\"a\":1}}",
     "[{\"name\":\"cfg\",\"value\":{\"a\":1}}]"},
    {"devicePropertyDesiredChange", "not json", "[]"},
};

static void test_message_properties(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof patch_vecs / sizeof patch_vecs[0]; i++) {
        const struct patch_vec *v = &patch_vecs[i];
        struct export_msg_in in = {
            .source = EXPORT_SRC_PROPERTIES,
            .app_id = "app",
            .device_id = "d1",
            .template_id = "dtmi:t;1",
            .type = v->type,
            .time_ms = T0,
            .payload = v->patch,
            .payload_len = strlen(v->patch),
        };
        char want[1024];
        snprintf(want, sizeof want,
                 "{\"applicationId\":\"app\",\"messageSource\":\"properties\","
                 "\"messageType\":\"%s\",\"deviceId\":\"d1\",\"schema\":\"default@v1\","
                 "\"templateId\":\"dtmi:t;1\",\"enqueuedTime\":\"2020-08-05T22:26:55.455Z\","
                 "\"enrichments\":{},\"properties\":%s}",
                 v->type, v->want_properties);
        assert_json_eq(export_message(&in), want);
    }
}

static void test_message_events(void **state)
{
    (void)state;
    static const struct {
        enum export_source src;
        const char *type, *source_name;
    } v[] = {
        {EXPORT_SRC_CONNECTIVITY, "connected", "deviceConnectivity"},
        {EXPORT_SRC_CONNECTIVITY, "disconnected", "deviceConnectivity"},
        {EXPORT_SRC_LIFECYCLE, "provisioned", "deviceLifecycle"},
        {EXPORT_SRC_LIFECYCLE, "deleted", "deviceLifecycle"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        cJSON *enr = cJSON_Parse("{\"site\":\"b\"}");
        struct export_msg_in in = {
            .source = v[i].src,
            .app_id = "app",
            .device_id = "d1",
            .template_id = "dtmi:t;1",
            .type = v[i].type,
            .time_ms = T0,
            .enrichments = enr,
        };
        char want[1024];
        snprintf(want, sizeof want,
                 "{\"applicationId\":\"app\",\"messageSource\":\"%s\",\"messageType\":\"%s\","
                 "\"deviceId\":\"d1\",\"schema\":\"default@v1\",\"templateId\":\"dtmi:t;1\","
                 "\"enqueuedTime\":\"2020-08-05T22:26:55.455Z\",\"enrichments\":{\"site\":\"b\"}}",
                 v[i].source_name, v[i].type);
        assert_json_eq(export_message(&in), want);
        cJSON_Delete(enr);
    }
}

struct filter_vec {
    const char *text;
    const char *err; /* NULL: parses; else a substring of the error */
    size_t n;
};
static const struct filter_vec filter_vecs[] = {
    {"SELECT * FROM dtmi:contoso:Thermostat;1", NULL, 0},
    {"select * from dtmi:a;1 where temp > 20", NULL, 1},
    {"SELECT * FROM dtmi:a;1 WHERE temp >= 20.5 AND mode = 'eco' AND on != true", NULL, 3},
    {"SELECT * FROM urn:x WHERE $id <> \"dev 1\"", NULL, 1},
    {"", "expected SELECT at offset 0", 0},
    {"SELECT FROM x", "expected * at offset 7", 0},
    {"SELECT * x", "expected FROM at offset 9", 0},
    {"SELECT * FROM", "expected a device template id", 0},
    {"SELECT * FROM t WHEN a > 1", "expected WHERE or the end at offset 16", 0},
    {"SELECT * FROM t WHERE > 1", "expected a field name at offset 22", 0},
    {"SELECT * FROM t WHERE a ~ 1", "expected a comparison operator at offset 24", 0},
    {"SELECT * FROM t WHERE a > ", "expected a number, string, true or false", 0},
    {"SELECT * FROM t WHERE a = 'x", "unterminated string", 0},
    {"SELECT * FROM t WHERE a = 1 OR b = 2", "expected AND or the end at offset 28", 0},
    {"SELECT * FROM t WHERE a=1 AND a=1 AND a=1 AND a=1 AND a=1 AND a=1 AND a=1 AND a=1 AND a=1",
     "more than 8 conditions", 0},
};

static void test_filter_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof filter_vecs / sizeof filter_vecs[0]; i++) {
        const struct filter_vec *v = &filter_vecs[i];
        struct export_filter f;
        char err[200] = "";
        int rc = export_filter_parse(v->text, &f, err, sizeof err);
        if (v->err == NULL) {
            if (rc != 0)
                fail_msg("'%s': %s", v->text, err);
            assert_int_equal(f.n, v->n);
        } else {
            assert_int_equal(rc, -1);
            if (strstr(err, v->err) == NULL || strncmp(err, "filter: ", 8) != 0)
                fail_msg("'%s': error '%s', expected '%s'", v->text, err, v->err);
        }
    }
}

struct match_vec {
    const char *filter, *template_id, *device, *fields;
    bool match;
};
static const struct match_vec match_vecs[] = {
    {"SELECT * FROM dtmi:a;1", "dtmi:a;1", "d", "{}", true},
    {"SELECT * FROM dtmi:a;1", "dtmi:b;1", "d", "{}", false},
    {"SELECT * FROM dtmi:a;1", NULL, "d", "{}", false},
    {"SELECT * FROM t WHERE temp > 20", "t", "d", "{\"temp\":21}", true},
    {"SELECT * FROM t WHERE temp > 20", "t", "d", "{\"temp\":20}", false},
    {"SELECT * FROM t WHERE temp >= 20", "t", "d", "{\"temp\":20}", true},
    {"SELECT * FROM t WHERE temp < 20", "t", "d", "{\"temp\":-3.5}", true},
    {"SELECT * FROM t WHERE temp <= 20", "t", "d", "{\"temp\":20.01}", false},
    {"SELECT * FROM t WHERE temp = 20", "t", "d", "{\"temp\":20}", true},
    {"SELECT * FROM t WHERE temp != 20", "t", "d", "{\"temp\":20}", false},
    {"SELECT * FROM t WHERE temp > 20", "t", "d", "{\"hum\":50}", false},      /* absent */
    {"SELECT * FROM t WHERE temp > 20", "t", "d", "{\"temp\":\"30\"}", false}, /* type */
    {"SELECT * FROM t WHERE mode = 'eco'", "t", "d", "{\"mode\":\"eco\"}", true},
    {"SELECT * FROM t WHERE mode = 'eco'", "t", "d", "{\"mode\":\"ECO\"}", false},
    {"SELECT * FROM t WHERE on = true", "t", "d", "{\"on\":true}", true},
    {"SELECT * FROM t WHERE on = true", "t", "d", "{\"on\":false}", false},
    {"SELECT * FROM t WHERE on != true", "t", "d", "{\"on\":false}", true},
    {"SELECT * FROM t WHERE a > 1 AND b < 1", "t", "d", "{\"a\":2,\"b\":0}", true},
    {"SELECT * FROM t WHERE a > 1 AND b < 1", "t", "d", "{\"a\":2,\"b\":1}", false},
    {"SELECT * FROM t WHERE $id = 'd1'", "t", "d1", NULL, true},
    {"SELECT * FROM t WHERE $id = 'd1'", "t", "d2", NULL, false},
    {"SELECT * FROM t WHERE temp > 1", "t", "d", NULL, false}, /* not telemetry */
};

static void test_filter_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof match_vecs / sizeof match_vecs[0]; i++) {
        const struct match_vec *v = &match_vecs[i];
        struct export_filter f;
        assert_int_equal(export_filter_parse(v->filter, &f, NULL, 0), 0);
        cJSON *fields = v->fields ? cJSON_Parse(v->fields) : NULL;
        bool m = export_filter_match(&f, v->template_id, v->device, fields);
        cJSON_Delete(fields);
        if (m != v->match)
            fail_msg("%s on %s: %d, expected %d", v->filter, v->fields ? v->fields : "-", m,
                     v->match);
    }
}

struct def_vec {
    const char *body;
    const char *err; /* NULL: accepted; else the start of the error (the field) */
};

#define AUTH ",\"authorization\":{\"type\":\"header\",\"value\":\"Bearer x\"}"
static const struct def_vec dest_vecs[] = {
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"https://example.net/h\"" AUTH "}",
     NULL},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"http://127.0.0.1:8080/\","
     "\"headerCustomizations\":{\"x-a\":{\"value\":\"1\",\"secret\":true}}" AUTH "}",
     NULL},
    {"[]", "body:"},
    {"{\"type\":\"webhook@v1\",\"url\":\"https://e/\"" AUTH "}", "displayName:"},
    {"{\"displayName\":\"W\",\"url\":\"https://e/\"" AUTH "}", "type:"},
    {"{\"displayName\":\"W\",\"type\":\"blobstorage@v1\",\"url\":\"https://e/\"" AUTH "}",
     "type: unknown"},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\"" AUTH "}", "url: required"},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"ftp://e/\"" AUTH "}", "url: not"},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"https:///x\"" AUTH "}", "url: not"},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"https://a b/\"" AUTH "}",
     "url: not"},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"https://e/\"}", "authorization:"},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"https://e/\","
     "\"authorization\":{\"type\":\"oauth\"}}",
     "authorization.tokenUrl: required"},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"https://e/\","
     "\"authorization\":{\"type\":\"header\"}}",
     "authorization.value:"},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"https://e/\","
     "\"headerCustomizations\":{\"bad name\":{\"value\":\"1\"}}" AUTH "}",
     "headerCustomizations:"},
    {"{\"displayName\":\"W\",\"type\":\"webhook@v1\",\"url\":\"https://e/\","
     "\"headerCustomizations\":{\"x\":{\"value\":\"a\\r\\nb: c\"}}" AUTH "}",
     "headerCustomizations.x.value:"},
};

static const struct def_vec export_vecs[] = {
    {"{\"displayName\":\"E\",\"source\":\"telemetry\",\"destinations\":[{\"id\":\"d\"}]}", NULL},
    {"{\"displayName\":\"E\",\"enabled\":false,\"source\":\"propertyChanges\","
     "\"filter\":\"SELECT * FROM dtmi:a;1\",\"enrichments\":{\"a\":{\"value\":\"x\"},"
     "\"b\":{\"path\":\"$templateDisplayName\"},\"c\":{\"target\":\"dtmi:a;1\",\"path\":\"fw\"}},"
     "\"destinations\":[{\"id\":\"d\",\"transform\":\"{}\"}]}",
     NULL},
    {"{\"source\":\"telemetry\",\"destinations\":[{\"id\":\"d\"}]}", "displayName:"},
    {"{\"displayName\":\"E\",\"destinations\":[{\"id\":\"d\"}]}", "source: required"},
    {"{\"displayName\":\"E\",\"source\":\"audit\",\"destinations\":[{\"id\":\"d\"}]}",
     "source: unknown"},
    {"{\"displayName\":\"E\",\"enabled\":1,\"source\":\"telemetry\",\"destinations\":[{\"id\":"
     "\"d\"}]}",
     "enabled:"},
    {"{\"displayName\":\"E\",\"source\":\"telemetry\",\"filter\":\"SELECT x\","
     "\"destinations\":[{\"id\":\"d\"}]}",
     "filter: expected *"},
    {"{\"displayName\":\"E\",\"source\":\"telemetry\",\"enrichments\":{\"a\":{\"path\":\"fw\"}},"
     "\"destinations\":[{\"id\":\"d\"}]}",
     "enrichments.a.path:"},
    {"{\"displayName\":\"E\",\"source\":\"telemetry\",\"enrichments\":{\"a\":{}},"
     "\"destinations\":[{\"id\":\"d\"}]}",
     "enrichments.a:"},
    {"{\"displayName\":\"E\",\"source\":\"telemetry\",\"destinations\":[]}", "destinations:"},
    {"{\"displayName\":\"E\",\"source\":\"telemetry\",\"destinations\":[{\"id\":\"d\"},{}]}",
     "destinations[1].id:"},
};

static void run_defs(const struct def_vec *v, size_t n, int (*check)(const cJSON *, char *, size_t))
{
    for (size_t i = 0; i < n; i++) {
        cJSON *body = cJSON_Parse(v[i].body);
        char err[300] = "";
        assert_non_null(body);
        int rc = check(body, err, sizeof err);
        cJSON_Delete(body);
        if (v[i].err == NULL && rc != 0)
            fail_msg("%s: refused: %s", v[i].body, err);
        if (v[i].err != NULL && (rc != -1 || strncmp(err, v[i].err, strlen(v[i].err)) != 0))
            fail_msg("%s: rc %d '%s', expected '%s'", v[i].body, rc, err, v[i].err);
    }
}

static void test_check_destination(void **state)
{
    (void)state;
    run_defs(dest_vecs, sizeof dest_vecs / sizeof dest_vecs[0], export_check_destination);
}

static void test_check_export(void **state)
{
    (void)state;
    run_defs(export_vecs, sizeof export_vecs / sizeof export_vecs[0], export_check_export);
}

static void test_classify_backoff(void **state)
{
    (void)state;
    static const struct {
        bool ok;
        long status;
        enum export_outcome out;
    } v[] = {
        {false, 0, EXPORT_OUT_RETRY},      {true, 200, EXPORT_OUT_OK},
        {true, 204, EXPORT_OUT_OK},        {true, 408, EXPORT_OUT_RETRY},
        {true, 429, EXPORT_OUT_RETRY},     {true, 500, EXPORT_OUT_RETRY},
        {true, 503, EXPORT_OUT_RETRY},     {true, 400, EXPORT_OUT_PERMANENT},
        {true, 401, EXPORT_OUT_PERMANENT}, {true, 404, EXPORT_OUT_PERMANENT},
        {true, 301, EXPORT_OUT_PERMANENT},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_int_equal(export_classify(v[i].ok, v[i].status), v[i].out);
    /* doubling from the base, capped, jitter within [50 %, 100 %] */
    int64_t prev_max = 0;
    for (unsigned a = 1; a < 40; a++) {
        int64_t lo = export_backoff_ms(a, 0), hi = export_backoff_ms(a, 0xffffffffu);
        int64_t mid = export_backoff_ms(a, 0x80000000u);
        assert_true(lo * 2 == hi || lo * 2 + 1 == hi);
        assert_true(lo <= mid && mid <= hi);
        assert_true(hi <= EXPORT_BACKOFF_MAX_MS);
        assert_true(hi >= prev_max);
        prev_max = hi;
    }
    assert_int_equal(export_backoff_ms(1, 0xffffffffu), EXPORT_BACKOFF_BASE_MS);
    assert_int_equal(export_backoff_ms(2, 0xffffffffu), 2 * EXPORT_BACKOFF_BASE_MS);
    assert_int_equal(export_backoff_ms(39, 0xffffffffu), EXPORT_BACKOFF_MAX_MS);
    assert_string_equal(export_status_name(false, 5, 0, false), "disabled");
    assert_string_equal(export_status_name(true, 0, 0, false), "starting");
    assert_string_equal(export_status_name(true, 5, 0, false), "healthy");
    assert_string_equal(export_status_name(true, 5, 1, false), "warning");
    assert_string_equal(export_status_name(true, 5, 0, true), "error");
}

#define EH_CS                                                                    \
    "Endpoint=sb://contoso-ns.servicebus.windows.net/;SharedAccessKeyName=send;" \
    "SharedAccessKey=abc="

static void test_kafka_conf(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *err; /* NULL: accepted */
        const char *bootstrap, *topic, *user;
        bool tls, sasl;
    } v[] = {
        /* Event Hubs: the namespace's Kafka endpoint, SASL PLAIN over TLS, $ConnectionString */
        {"{\"displayName\":\"e\",\"type\":\"eventhubs@v1\",\"authorization\":{\"type\":"
         "\"connectionString\",\"connectionString\":\"" EH_CS ";EntityPath=hub1\"}}",
         NULL, "contoso-ns.servicebus.windows.net:9093", "hub1", "$ConnectionString", true, true},
        {"{\"displayName\":\"e\",\"type\":\"eventhubs@v1\",\"authorization\":{\"type\":"
         "\"connectionString\",\"connectionString\":\"" EH_CS "\",\"eventHubName\":\"h2\"}}",
         NULL, "contoso-ns.servicebus.windows.net:9093", "h2", "$ConnectionString", true, true},
        {"{\"displayName\":\"e\",\"type\":\"eventhubs@v1\",\"authorization\":{\"type\":"
         "\"connectionString\",\"connectionString\":\"" EH_CS "\"}}",
         "authorization.connectionString: no EntityPath", NULL, NULL, NULL, false, false},
        {"{\"displayName\":\"e\",\"type\":\"eventhubs@v1\",\"authorization\":{\"type\":"
         "\"connectionString\",\"connectionString\":\"SharedAccessKey=x;EntityPath=h\"}}",
         "authorization.connectionString: no Endpoint", NULL, NULL, NULL, false, false},
        {"{\"displayName\":\"e\",\"type\":\"eventhubs@v1\",\"authorization\":{\"type\":"
         "\"systemAssignedManagedIdentity\"}}",
         "authorization.type:", NULL, NULL, NULL, false, false},
        {"{\"displayName\":\"e\",\"type\":\"eventhubs@v1\"}", "authorization:", NULL, NULL, NULL,
         false, false},
        {"{\"displayName\":\"k\",\"type\":\"kafka@v1\",\"bootstrapServers\":\"a:9092,b:9093\","
         "\"topic\":\"t.1\",\"authorization\":{\"type\":\"none\"}}",
         NULL, "a:9092,b:9093", "t.1", "", false, false},
        {"{\"displayName\":\"k\",\"type\":\"kafka@v1\",\"bootstrapServers\":\"a:9093\","
         "\"topic\":\"t\",\"tls\":true,\"authorization\":{\"type\":\"saslPlain\","
         "\"username\":\"u\",\"password\":\"p\"}}",
         NULL, "a:9093", "t", "u", true, true},
        {"{\"displayName\":\"k\",\"type\":\"kafka@v1\",\"bootstrapServers\":\"a\","
         "\"topic\":\"t\",\"authorization\":{\"type\":\"none\"}}",
         "bootstrapServers:", NULL, NULL, NULL, false, false},
        {"{\"displayName\":\"k\",\"type\":\"kafka@v1\",\"bootstrapServers\":\"a:70000\","
         "\"topic\":\"t\",\"authorization\":{\"type\":\"none\"}}",
         "bootstrapServers:", NULL, NULL, NULL, false, false},
        {"{\"displayName\":\"k\",\"type\":\"kafka@v1\",\"bootstrapServers\":\"a:1,\","
         "\"topic\":\"t\",\"authorization\":{\"type\":\"none\"}}",
         "bootstrapServers:", NULL, NULL, NULL, false, false},
        {"{\"displayName\":\"k\",\"type\":\"kafka@v1\",\"bootstrapServers\":\"a:1\","
         "\"topic\":\"a b\",\"authorization\":{\"type\":\"none\"}}",
         "topic:", NULL, NULL, NULL, false, false},
        {"{\"displayName\":\"k\",\"type\":\"kafka@v1\",\"bootstrapServers\":\"a:1\","
         "\"topic\":\"t\",\"authorization\":{\"type\":\"saslPlain\",\"username\":\"u\"}}",
         "authorization.password:", NULL, NULL, NULL, false, false},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        cJSON *body = cJSON_Parse(v[i].body);
        struct export_kafka_conf k;
        char err[300] = "";
        assert_non_null(body);
        int rc = export_kafka_conf_of(body, &k, err, sizeof err);
        /* the destination check takes the same path */
        char err2[300] = "";
        assert_int_equal(export_check_destination(body, err2, sizeof err2), rc);
        cJSON_Delete(body);
        if (v[i].err != NULL) {
            if (rc != -1 || strncmp(err, v[i].err, strlen(v[i].err)) != 0)
                fail_msg("%s: rc %d '%s', expected '%s'", v[i].body, rc, err, v[i].err);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: %s", v[i].body, err);
        assert_string_equal(k.bootstrap, v[i].bootstrap);
        assert_string_equal(k.topic, v[i].topic);
        assert_string_equal(k.user, v[i].user);
        assert_int_equal(k.tls, v[i].tls);
        assert_int_equal(k.sasl, v[i].sasl);
        if (strcmp(k.user, "$ConnectionString") == 0)
            assert_non_null(strstr(k.password, "SharedAccessKey=abc="));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_telemetry),  cmocka_unit_test(test_message_text),
        cmocka_unit_test(test_message_properties), cmocka_unit_test(test_message_events),
        cmocka_unit_test(test_filter_parse),       cmocka_unit_test(test_filter_match),
        cmocka_unit_test(test_check_destination),  cmocka_unit_test(test_check_export),
        cmocka_unit_test(test_classify_backoff),   cmocka_unit_test(test_kafka_conf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
