/*
 * test_dtdl.c - device-template model importer: the tutorial's model in its three shapes
 * (tests/data/: inline DTDL v1, flat DTDL v2, DTDL v2 with components; checked capability by
 * capability against the facts of tests/data/environmental-sensor.capabilities.csv), the
 * project's own models in models/, a table of malformed models with the JSON path and reason of
 * each error, value checks, JSON rendering, and allocation failure at every step.
 *
 * Files are read at run time by paths relative to the repository root (tests run from there);
 * a missing file fails the test (tests/data/README.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtdl/dtdl.h"
#include "iotc/common.h"

/* ---- files ---- */

static char *read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 >= cap) { /* keep room for the terminating NUL */
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[len] = '\0';
        if (out_len != NULL)
            *out_len = len;
    }
    return buf;
}

/* Read tests/data/NAME; a missing fixture fails the test. */
static char *read_data(const char *name, size_t *len)
{
    char path[300];
    snprintf(path, sizeof path, "tests/data/%s", name);
    char *buf = read_file(path, len);
    if (buf == NULL)
        fail_msg("cannot read %s (tests run from the repository root)", path);
    return buf;
}

static struct dtdl_model *import_ok(const char *json, size_t len)
{
    struct dtdl_model *m = NULL;
    struct dtdl_error err;
    int rc = dtdl_import(json, len, &m, &err);
    if (rc != IOTC_OK)
        fail_msg("import failed (%d): %s: %s", rc, err.path, err.message);
    assert_non_null(m);
    return m;
}

static struct dtdl_model *import_file(const char *path)
{
    size_t len = 0;
    char *buf = read_file(path, &len);
    if (buf == NULL)
        fail_msg("cannot read %s (tests run from the repository root)", path);
    struct dtdl_model *m = import_ok(buf, len);
    free(buf);
    return m;
}

/* ---- the tutorial's capabilities (tests/data/environmental-sensor.capabilities.csv; the v1 to
 * v2 mapping is in tests/data/README.md) ---- */

struct cap_fact {
    const char *instance;
    enum dtdl_kind kind;
    const char *name;
    const char *display_name;     /* v1 file; NULL: the model gives none */
    enum dtdl_schema_type schema; /* 0 for commands */
    bool writable;
    const char *unit_v1;
    const char *unit_v2;
    const char *display_unit_v1;
    const char *semantic_v1;
    const char *semantic_v2;
    enum dtdl_command_type command_type;
};

#define P DTDL_PROPERTY
#define T DTDL_TELEMETRY
#define C DTDL_COMMAND
static const struct cap_fact facts[] = {
    {"deviceinfo", P, "manufacturer", "Manufacturer", DTDL_SCHEMA_STRING, false, NULL, NULL, NULL,
     NULL, NULL, 0},
    {"deviceinfo", P, "model", "Device model", DTDL_SCHEMA_STRING, false, NULL, NULL, NULL, NULL,
     NULL, 0},
    {"deviceinfo", P, "swVersion", "Software version", DTDL_SCHEMA_STRING, false, NULL, NULL, NULL,
     NULL, NULL, 0},
    {"deviceinfo", P, "osName", "Operating system name", DTDL_SCHEMA_STRING, false, NULL, NULL,
     NULL, NULL, NULL, 0},
    {"deviceinfo", P, "processorArchitecture", "Processor architecture", DTDL_SCHEMA_STRING, false,
     NULL, NULL, NULL, NULL, NULL, 0},
    {"deviceinfo", P, "processorManufacturer", "Processor manufacturer", DTDL_SCHEMA_STRING, false,
     NULL, NULL, NULL, NULL, NULL, 0},
    {"deviceinfo", P, "totalStorage", "Total storage", DTDL_SCHEMA_LONG, false, NULL, NULL,
     "kilobytes", NULL, NULL, 0},
    {"deviceinfo", P, "totalMemory", "Total memory", DTDL_SCHEMA_LONG, false, NULL, NULL,
     "kilobytes", NULL, NULL, 0},
    {"sensor", P, "state", "Device State", DTDL_SCHEMA_BOOLEAN, false, NULL, NULL, NULL, NULL, NULL,
     0},
    {"sensor", P, "name", "Customer Name", DTDL_SCHEMA_STRING, true, NULL, NULL, NULL, NULL, NULL,
     0},
    {"sensor", P, "brightness", "Brightness Level", DTDL_SCHEMA_LONG, true, NULL, NULL, NULL, NULL,
     NULL, 0},
    {"sensor", T, "temp", "Temperature", DTDL_SCHEMA_DOUBLE, false, "Units/Temperature/fahrenheit",
     "degreeFahrenheit", NULL, "SemanticType/Temperature", "Temperature", 0},
    {"sensor", T, "humid", "Humidity", DTDL_SCHEMA_DOUBLE, false, "Units/Humidity/percent",
     "percent", NULL, "SemanticType/Humidity", "RelativeHumidity", 0},
    {"sensor", C, "blink", NULL, 0, false, NULL, NULL, NULL, NULL, NULL, DTDL_CMD_SYNCHRONOUS},
    {"sensor", C, "turnon", NULL, 0, false, NULL, NULL, NULL, NULL, NULL, DTDL_CMD_SYNCHRONOUS},
    {"sensor", C, "turnoff", NULL, 0, false, NULL, NULL, NULL, NULL, NULL, DTDL_CMD_SYNCHRONOUS},
    {"sensor", C, "rundiagnostics", NULL, 0, false, NULL, NULL, NULL, NULL, NULL,
     DTDL_CMD_ASYNCHRONOUS},
};
#undef P
#undef T
#undef C
#define N_FACTS (sizeof facts / sizeof facts[0])

enum layout {
    V1_GROUPS,     /* v1 DCM: root component, group = interface instance */
    V2_FLAT,       /* v2 extends: root component, no group */
    V2_COMPONENTS, /* v2 Components named like the v1 instances */
};

static void assert_str_or_null(const char *got, const char *want, const char *what,
                               const char *name)
{
    if (want == NULL && got == NULL)
        return;
    if (want == NULL || got == NULL || strcmp(got, want) != 0)
        fail_msg("%s of %s: got %s, want %s", what, name, got ? got : "(null)",
                 want ? want : "(null)");
}

static void check_blink(const struct dtdl_capability *b)
{
    assert_non_null(b->request);
    assert_string_equal(b->request->name, "interval");
    assert_int_equal(b->request->schema->type, DTDL_SCHEMA_LONG);
    assert_non_null(b->response);
    assert_string_equal(b->response->name, "blinkResponse");
    const struct dtdl_schema *r = b->response->schema;
    assert_int_equal(r->type, DTDL_SCHEMA_OBJECT);
    assert_int_equal(r->n_fields, 1);
    assert_string_equal(r->fields[0].name, "description");
    assert_int_equal(r->fields[0].schema->type, DTDL_SCHEMA_STRING);
}

/* The model holds exactly the 17 tutorial capabilities, in order, with the facts above.
 * check_display: compare display names with the v1 ones (the project's v2 file renames
 * commands, the fixture v2 files give commands their name as displayName). */
static void check_facts(const struct dtdl_model *m, enum layout layout, bool check_display,
                        bool check_command_type)
{
    assert_int_equal(m->n_caps, N_FACTS);
    for (size_t i = 0; i < N_FACTS; i++) {
        const struct cap_fact *f = &facts[i];
        const struct dtdl_capability *c = &m->caps[i];
        assert_string_equal(c->name, f->name);
        if (c->kind != f->kind)
            fail_msg("kind of %s: got %s", f->name, dtdl_kind_name(c->kind));
        const char *comp = layout == V2_COMPONENTS ? f->instance : "";
        assert_string_equal(c->component, comp);
        assert_str_or_null(c->group, layout == V1_GROUPS ? f->instance : NULL, "group", f->name);
        assert_ptr_equal(dtdl_find(m, comp, f->name), c);
        if (check_display)
            assert_str_or_null(c->display_name, f->display_name, "displayName", f->name);
        if (f->kind == DTDL_COMMAND) {
            assert_null(c->schema);
            if (check_command_type)
                assert_int_equal(c->command_type, f->command_type);
            assert_false(c->durable);
            if (strcmp(f->name, "blink") == 0) {
                check_blink(c);
            } else {
                assert_null(c->request);
                assert_null(c->response);
            }
            continue;
        }
        assert_non_null(c->schema);
        if (c->schema->type != f->schema)
            fail_msg("schema of %s: got %s", f->name, dtdl_schema_type_name(c->schema->type));
        assert_int_equal(c->writable, f->writable);
        assert_null(c->request);
        if (m->version == 1) {
            assert_str_or_null(c->unit, f->unit_v1, "unit", f->name);
            assert_str_or_null(c->display_unit, f->display_unit_v1, "displayUnit", f->name);
            assert_str_or_null(c->semantic_type, f->semantic_v1, "semantic type", f->name);
        } else {
            assert_str_or_null(c->unit, f->unit_v2, "unit", f->name);
            assert_null(c->display_unit);
            assert_str_or_null(c->semantic_type, f->semantic_v2, "semantic type", f->name);
        }
    }
}

/* ---- the tutorial's model in three shapes (tests/data/) ---- */

static void test_tutorial_v1_dcm(void **state)
{
    (void)state;
    size_t len;
    char *buf = read_data("environmental-sensor.inline.dcm.v1.json", &len);
    struct dtdl_model *m = import_ok(buf, len);
    free(buf);
    assert_int_equal(m->version, 1);
    /* the unreplaced placeholders are kept as they are */
    assert_string_equal(m->id, "urn:YOUR_COMPANY_NAME_HERE:sample_device:1");
    assert_string_equal(m->display_name, "Environment Sensor Capability Model");
    assert_int_equal(m->n_components, 1);
    assert_string_equal(m->components[0].name, "");
    assert_int_equal(m->n_groups, 2);
    assert_string_equal(m->groups[0].name, "deviceinfo");
    assert_string_equal(m->groups[0].interface_id,
                        "urn:azureiot:DeviceManagement:DeviceInformation:1");
    assert_string_equal(m->groups[0].display_name, "Device Information");
    assert_string_equal(m->groups[1].name, "sensor");
    assert_string_equal(m->groups[1].interface_id,
                        "urn:<YOUR_COMPANY_NAME_HERE>:EnvironmentalSensor:1");
    assert_string_equal(m->groups[1].display_name, "Environmental Sensor");
    check_facts(m, V1_GROUPS, true, true);
    const struct dtdl_capability *blink = dtdl_find(m, "", "blink");
    assert_string_equal(blink->description, "Blink the LED at the given interval.");
    assert_null(dtdl_find(m, "sensor", "blink")); /* v1 has no components */
    assert_string_equal(dtdl_find(m, NULL, "temp")->interface_id,
                        "urn:<YOUR_COMPANY_NAME_HERE>:EnvironmentalSensor:1");
    dtdl_model_free(m);
}

static void test_tutorial_v2_flat(void **state)
{
    (void)state;
    size_t len;
    char *buf = read_data("environmental-sensor.flat.dtdlv2.json", &len);
    struct dtdl_model *m = import_ok(buf, len);
    free(buf);
    assert_int_equal(m->version, 2);
    assert_string_equal(m->id, "dtmi:com:example:sample_device;1");
    assert_int_equal(m->n_components, 1);
    assert_int_equal(m->n_groups, 0);
    check_facts(m, V2_FLAT, false, true);
    /* inherited through extends: the declaring interface is remembered */
    assert_string_equal(dtdl_find(m, "", "swVersion")->interface_id,
                        "dtmi:azure:DeviceManagement:DeviceInformation;1");
    assert_string_equal(dtdl_find(m, "", "blink")->display_name, "blink");
    dtdl_model_free(m);
}

static void test_tutorial_v2_components(void **state)
{
    (void)state;
    size_t len;
    char *buf = read_data("environmental-sensor.components.dtdlv2.json", &len);
    struct dtdl_model *m = import_ok(buf, len);
    free(buf);
    assert_int_equal(m->version, 2);
    assert_string_equal(m->id, "dtmi:com:example:sample_device;2");
    assert_int_equal(m->n_components, 3);
    assert_string_equal(m->components[0].name, "");
    assert_string_equal(m->components[1].name, "deviceinfo");
    assert_string_equal(m->components[1].interface_id,
                        "dtmi:azure:DeviceManagement:DeviceInformation;1");
    assert_string_equal(m->components[1].display_name, "Device Information");
    assert_string_equal(m->components[2].name, "sensor");
    assert_string_equal(m->components[2].interface_id, "dtmi:com:example:EnvironmentalSensor;1");
    assert_ptr_equal(dtdl_find_component(m, "sensor"), &m->components[2]);
    assert_null(dtdl_find_component(m, "nope"));
    check_facts(m, V2_COMPONENTS, false, true);
    assert_null(dtdl_find(m, "", "temp")); /* only inside the component */
    dtdl_model_free(m);
}

/* The facts table above must say what the capabilities table says. */
static void test_facts_match_csv(void **state)
{
    (void)state;
    size_t len;
    char *csv = read_data("environmental-sensor.capabilities.csv", &len);
    size_t row = 0;
    for (char *line = csv; line != NULL && *line != '\0'; row++) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        char *next = nl != NULL ? nl + 1 : NULL;
        if (row == 0) {
            line = next; /* header */
            continue;
        }
        char *col[16] = {0};
        size_t n = 0;
        for (char *p = line; n < 16;) {
            col[n++] = p;
            char *comma = strchr(p, ',');
            if (comma == NULL)
                break;
            *comma = '\0';
            p = comma + 1;
        }
        if (n < 12)
            fail_msg("capabilities.csv row %zu has %zu columns", row, n);
        assert_true(row - 1 < N_FACTS);
        const struct cap_fact *f = &facts[row - 1];
        assert_string_equal(col[0], f->instance);
        assert_string_equal(col[2], f->name);
        const char *kind = f->kind == DTDL_PROPERTY    ? "Property"
                           : f->kind == DTDL_TELEMETRY ? "Telemetry"
                                                       : "Command";
        assert_string_equal(col[1], kind);
        if (f->kind != DTDL_COMMAND) {
            assert_string_equal(col[3], f->display_name);
            assert_string_equal(col[4], dtdl_schema_type_name(f->schema));
            /* the csv leaves writable blank for telemetry */
            assert_string_equal(col[5], f->kind == DTDL_TELEMETRY ? ""
                                        : f->writable             ? "true"
                                                                  : "false");
            char du[64] = "";
            if (f->display_unit_v1 != NULL)
                snprintf(du, sizeof du, "displayUnit=%s", f->display_unit_v1);
            assert_string_equal(col[6], f->unit_v1 ? f->unit_v1 : du);
            assert_string_equal(col[7], f->unit_v2 ? f->unit_v2 : "");
            assert_string_equal(col[8], f->semantic_v1 ? f->semantic_v1 : "");
        } else {
            assert_string_equal(col[9], f->command_type == DTDL_CMD_SYNCHRONOUS ? "synchronous"
                                                                                : "asynchronous");
            if (strcmp(f->name, "blink") == 0) {
                assert_string_equal(col[10], "interval:long");
                assert_string_equal(col[11], "blinkResponse:Object{description:string}");
            } else {
                assert_string_equal(col[10], "");
                assert_string_equal(col[11], "");
            }
        }
        line = next;
    }
    assert_int_equal(row - 1, N_FACTS);
    free(csv);
}

/* ---- the project's own model files ---- */

static void test_project_v2(void **state)
{
    (void)state;
    struct dtdl_model *m = import_file("models/environmental-sensor.dtdlv2.json");
    assert_int_equal(m->version, 2);
    assert_string_equal(m->id, "dtmi:iotc:example:EnvironmentalSensor;1");
    assert_int_equal(m->n_components, 1);
    check_facts(m, V2_FLAT, false, false);
    assert_int_equal(dtdl_find(m, "", "rundiagnostics")->command_type, DTDL_CMD_UNSPECIFIED);
    assert_string_equal(dtdl_find(m, "", "blink")->request->display_name, "Interval");
    dtdl_model_free(m);
}

static void test_project_v1(void **state)
{
    (void)state;
    struct dtdl_model *m = import_file("models/environmental-sensor.dcm.v1.json");
    assert_int_equal(m->version, 1);
    assert_string_equal(m->id, "urn:iotc:example:EnvironmentalSensorModel:1");
    /* a language map: "en" is chosen, the map is kept */
    assert_string_equal(m->display_name, "Environmental sensor (iotc)");
    assert_non_null(m->display_name_map);
    assert_string_equal(cJSON_GetObjectItem(m->display_name_map, "fr")->valuestring,
                        "Capteur environnemental (iotc)");
    assert_int_equal(m->n_groups, 2);
    assert_string_equal(m->groups[1].display_name, "Environmental Sensor");
    check_facts(m, V1_GROUPS, true, true);
    dtdl_model_free(m);
}

/* ---- malformed models ---- */

#define V2 "\"@context\":\"dtmi:dtdl:context;2\",\"@type\":\"Interface\","
#define V2ID V2 "\"@id\":\"dtmi:x:a;1\","
#define V1 "\"@context\":\"http://azureiot.com/v1/contexts/IoTModel.json\","
#define TEL(n, s) "{\"@type\":\"Telemetry\",\"name\":\"" n "\",\"schema\":" s "}"
#define IFACE(id, contents) "{" V2 "\"@id\":\"" id "\",\"contents\":[" contents "]}"

struct bad_case {
    const char *json;
    const char *path;
    const char *reason;
};

static const struct bad_case bad_cases[] = {
    /* JSON */
    {"", "$", "not valid JSON at line 1 column 1"},
    {"{\n  \"a\": 1,\n  \"b\": }", "$", "not valid JSON at line 3 column 8"},
    {"{} x", "$", "text after the JSON value"},
    {"42", "$", "must be a JSON object or array"},
    {"[]", "$", "empty array"},
    /* @context */
    {"{\"@id\":\"dtmi:x:a;1\",\"@type\":\"Interface\"}", "$", "missing @context"},
    {"{\"@context\":\"dtmi:dtdl:context;3\",\"@id\":\"dtmi:x:a;1\",\"@type\":\"Interface\"}",
     "$.@context", "unsupported DTDL version"},
    {"{\"@context\":\"http://example.com/ctx\",\"@id\":\"dtmi:x:a;1\",\"@type\":\"Interface\"}",
     "$.@context", "unknown @context"},
    {"{\"@context\":[\"dtmi:iotcentral:context;2\"],\"@id\":\"dtmi:x:a;1\",\"@type\":"
     "\"Interface\"}",
     "$.@context", "no DTDL context"},
    {"[" IFACE("dtmi:x:a;1", "") ",{" V1 "\"@id\":\"urn:x\",\"@type\":\"Interface\"}]",
     "$[1].@context", "mixes DTDL v2 and v1"},
    /* Interface */
    {"{" V2 "\"contents\":[]}", "$", "missing \"@id\""},
    {"{" V2 "\"@id\":\"dtmi:x\"}", "$.@id", "invalid DTMI \"dtmi:x\""},
    {"{" V2 "\"@id\":\"dtmi:x:_a;1\"}", "$.@id", "invalid DTMI"},
    {"{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:x:a;1\",\"@type\":\"Interfase\"}",
     "$.@type", "unknown @type \"Interfase\""},
    {"{" V2ID "\"contents\":{}}", "$.contents", "must be an array"},
    {"{" V2ID "\"displayName\":5}", "$.displayName", "must be a string or a language map"},
    {"{" V2ID "\"displayName\":{\"en\":5}}", "$.displayName.en", "language map values"},
    {"{" V2ID "\"contentz\":[]}", "$.contentz", "unknown property \"contentz\""},
    {"[" IFACE("dtmi:x:a;1", "") "," IFACE("dtmi:x:a;1", "") "]", "$[1].@id",
     "duplicate Interface @id \"dtmi:x:a;1\" (also at $[0])"},
    /* contents */
    {"{" V2ID "\"contents\":[" TEL("t", "\"doubel\"") "]}", "$.contents[0].schema",
     "unknown schema \"doubel\""},
    {"{" V2ID "\"contents\":[" TEL("t", "\"double\"") "," TEL("u", "\"integer\"") "," TEL(
         "v", "\"long\"") "," TEL("w", "\"doubel\"") "]}",
     "$.contents[3].schema", "unknown schema \"doubel\""},
    {"{" V2ID "\"contents\":[" TEL("t", "\"double\"") "," TEL("t", "\"long\"") "]}",
     "$.contents[1].name", "duplicate name \"t\" (also at $.contents[0])"},
    {"{" V2ID "\"contents\":[{\"@type\":\"Telemetry\",\"schema\":\"double\"}]}", "$.contents[0]",
     "missing \"name\""},
    {"{" V2ID "\"contents\":[{\"@type\":\"Telemtry\",\"name\":\"t\",\"schema\":\"double\"}]}",
     "$.contents[0].@type", "unknown @type \"Telemtry\""},
    {"{" V2ID "\"contents\":[{\"name\":\"t\",\"schema\":\"double\"}]}", "$.contents[0]",
     "missing \"@type\""},
    {"{" V2ID "\"contents\":[{\"@type\":7,\"name\":\"t\",\"schema\":\"double\"}]}",
     "$.contents[0].@type", "must be a string or an array"},
    {"{" V2ID "\"contents\":[{\"@type\":[\"Telemetry\",\"Property\"],\"name\":\"t\",\"schema\":"
     "\"double\"}]}",
     "$.contents[0].@type", "has both \"Telemetry\" and \"Property\""},
    {"{" V2ID "\"contents\":[{\"@type\":[\"Telemetry\",\"Object\"],\"name\":\"t\",\"schema\":"
     "\"double\"}]}",
     "$.contents[0].@type", "\"Object\" is not allowed here"},
    {"{" V2ID "\"contents\":[" TEL("1abc", "\"double\"") "]}", "$.contents[0].name",
     "invalid name \"1abc\": must start with a letter"},
    {"{" V2ID "\"contents\":[" TEL("a-b", "\"double\"") "]}", "$.contents[0].name",
     "may only contain letters, digits and '_'"},
    {"{" V2ID "\"contents\":[" TEL("ab_", "\"double\"") "]}", "$.contents[0].name",
     "must not end with '_'"},
    {"{" V2ID "\"contents\":[" TEL("a123456789012345678901234567890123456789012345678901234567890"
                                   "1234",
                                   "\"double\"") "]}",
     "$.contents[0].name", "longer than 64"},
    {"{" V2ID "\"contents\":[{\"@type\":\"Telemetry\",\"name\":5,\"schema\":\"double\"}]}",
     "$.contents[0].name", "must be a string"},
    {"{" V2ID "\"contents\":[{\"@type\":\"Telemetry\",\"name\":\"t\"}]}", "$.contents[0]",
     "missing \"schema\""},
    {"{" V2ID "\"contents\":[" TEL("t", "5") "]}", "$.contents[0].schema",
     "schema must be a string or an object"},
    {"{" V2ID "\"contents\":[{\"@type\":\"Telemetry\",\"name\":\"t\",\"schema\":\"double\","
     "\"writable\":true}]}",
     "$.contents[0].writable", "unknown property"},
    {"{" V2ID "\"contents\":[{\"@type\":[\"Telemetry\",\"X\"],\"name\":\"t\",\"schema\":\"double\","
     "\"writable\":true}]}",
     "$.contents[0].writable", "only a Property can be writable"},
    {"{" V2ID "\"contents\":[{\"@type\":\"Property\",\"name\":\"p\",\"schema\":\"double\","
     "\"writable\":\"yes\"}]}",
     "$.contents[0].writable", "must be true or false"},
    {"{" V2ID "\"contents\":[{\"@type\":\"Property\",\"name\":\"p\",\"schema\":\"double\","
     "\"writeable\":true}]}",
     "$.contents[0].writeable", "unknown property \"writeable\""},
    {"{" V2ID "\"contents\":[{\"@type\":\"Telemetry\",\"name\":\"t\",\"schema\":\"double\","
     "\"unit\":\"percent\"}]}",
     "$.contents[0].unit", "unit requires a semantic type"},
    {"{" V2ID "\"contents\":[{\"@type\":\"Property\",\"name\":\"p\",\"schema\":{\"@type\":"
     "\"Array\",\"elementSchema\":\"long\"}}]}",
     "$.contents[0].schema", "a Property schema may not contain an Array"},
    {"{" V2ID "\"contents\":[{\"@type\":\"Property\",\"name\":\"p\",\"schema\":\"point\"}]}",
     "$.contents[0].schema", "may not contain an Array"},
    {"{" V2ID "\"displayName\":\""
     "0123456789012345678901234567890123456789012345678901234567890123"
     "4\"}",
     "$.displayName", "is longer than 64 characters"},
    {"{" V2ID "\"displayName\":{\"en\":\"ok\",\"fr\":\""
     "0123456789012345678901234567890123456789012345678901234567890123x\"}}",
     "$.displayName.fr", "is longer than 64 characters"},
    {"{" V2ID "\"contents\":[{\"@type\":[\"Telemetry\",\"Temperature\"],\"name\":\"t\","
     "\"schema\":\"double\",\"unit\":\"degreesFahrenheit\"}]}",
     "$.contents[0].unit", "\"degreesFahrenheit\" is not a unit of Temperature"},
    {"{" V2ID "\"contents\":[{\"@type\":[\"Telemetry\",\"RelativeHumidity\"],\"name\":\"h\","
     "\"schema\":\"double\"}]}",
     "$.contents[0]",
     "semantic type \"RelativeHumidity\" needs a \"unit\" (one of: percent unity)"},
    {"{" V2ID "\"contents\":[{\"@type\":[\"Property\",\"Temperature\"],\"name\":\"t\","
     "\"schema\":\"string\",\"unit\":\"kelvin\"}]}",
     "$.contents[0].schema", "needs a numeric schema"},
    /* commands */
    {"{" V2ID "\"contents\":[{\"@type\":\"Command\",\"name\":\"c\",\"commandType\":\"sync\"}]}",
     "$.contents[0].commandType", "must be \"synchronous\" or \"asynchronous\""},
    {"{" V2ID "\"contents\":[{\"@type\":\"Command\",\"name\":\"c\",\"request\":{\"name\":\"r\"}}]}",
     "$.contents[0].request", "missing \"schema\""},
    {"{" V2ID "\"contents\":[{\"@type\":\"Command\",\"name\":\"c\",\"response\":{\"schema\":"
     "\"long\"}}]}",
     "$.contents[0].response", "missing \"name\""},
    {"{" V2ID "\"contents\":[{\"@type\":\"Command\",\"name\":\"c\",\"request\":\"long\"}]}",
     "$.contents[0].request", "must be an object"},
    {"{" V2ID "\"contents\":[{\"@type\":\"Command\",\"name\":\"c\",\"schema\":\"long\"}]}",
     "$.contents[0].schema", "unknown property \"schema\""},
    /* complex schemas */
    {"{" V2ID "\"contents\":[" TEL("t", "{\"@type\":\"Enum\",\"enumValues\":[]}") "]}",
     "$.contents[0].schema", "Enum without \"valueSchema\""},
    {"{" V2ID "\"contents\":[" TEL(
         "t", "{\"@type\":\"Enum\",\"valueSchema\":\"integer\",\"enumValues\":[{\"name\":\"a\","
              "\"enumValue\":1},{\"name\":\"b\",\"enumValue\":1}]}") "]}",
     "$.contents[0].schema.enumValues[1].enumValue", "duplicate enumValue"},
    {"{" V2ID "\"contents\":[" TEL(
         "t", "{\"@type\":\"Enum\",\"valueSchema\":\"integer\",\"enumValues\":[{\"name\":\"a\","
              "\"enumValue\":\"x\"}]}") "]}",
     "$.contents[0].schema.enumValues[0].enumValue", "must be a 32-bit integer"},
    {"{" V2ID "\"contents\":[" TEL("t", "{\"@type\":\"Enum\",\"valueSchema\":\"double\","
                                        "\"enumValues\":[]}") "]}",
     "$.contents[0].schema.valueSchema", "must be \"integer\" or \"string\""},
    {"{" V2ID "\"contents\":[" TEL("t", "{\"@type\":\"Object\",\"fields\":[{\"name\":\"a\","
                                        "\"schema\":\"long\"},{\"name\":\"a\",\"schema\":"
                                        "\"double\"}]}") "]}",
     "$.contents[0].schema.fields[1].name", "duplicate field name \"a\""},
    {"{" V2ID "\"contents\":[" TEL("t", "{\"@type\":\"Object\"}") "]}", "$.contents[0].schema",
     "Object without \"fields\""},
    {"{" V2ID "\"contents\":[" TEL("t", "{\"@type\":\"Object\",\"fields\":[{\"name\":\"a\","
                                        "\"schema\":\"lng\"}]}") "]}",
     "$.contents[0].schema.fields[0].schema", "unknown schema \"lng\""},
    {"{" V2ID "\"contents\":[" TEL("t", "{\"@type\":\"Map\",\"mapKey\":{\"name\":\"k\",\"schema\":"
                                        "\"long\"},\"mapValue\":{\"name\":\"v\",\"schema\":"
                                        "\"long\"}}") "]}",
     "$.contents[0].schema.mapKey.schema", "a Map key must have schema \"string\""},
    {"{" V2ID "\"contents\":[" TEL("t", "{\"@type\":\"Array\"}") "]}", "$.contents[0].schema",
     "missing \"elementSchema\""},
    {"{" V2ID "\"contents\":[" TEL("t", "{\"@type\":\"Struct\"}") "]}",
     "$.contents[0].schema.@type", "unknown @type \"Struct\""},
    {"{" V2ID "\"contents\":[" TEL(
         "t", "{\"@type\":\"Array\",\"elementSchema\":{\"@type\":\"Array\",\"elementSchema\":{"
              "\"@type\":\"Array\",\"elementSchema\":{\"@type\":\"Array\",\"elementSchema\":{"
              "\"@type\":\"Array\",\"elementSchema\":{\"@type\":\"Array\",\"elementSchema\":"
              "\"long\"}}}}}}") "]}",
     "$.contents[0].schema.elementSchema.elementSchema.elementSchema.elementSchema.elementSchema",
     "nested deeper than 5 levels"},
    {"{" V2ID "\"contents\":[" TEL("t", "\"dtmi:x:s;1\"") "]}", "$.contents[0].schema",
     "unresolved schema \"dtmi:x:s;1\""},
    {"{" V2ID "\"schemas\":[{\"@id\":\"dtmi:x:s;1\",\"@type\":\"Object\",\"fields\":[{\"name\":"
     "\"self\",\"schema\":\"dtmi:x:s;1\"}]}]}",
     "$.schemas[0].fields[0].schema", "schema \"dtmi:x:s;1\" refers to itself"},
    {"{" V2ID "\"schemas\":[{\"@type\":\"Object\",\"fields\":[]}]}", "$.schemas[0]",
     "missing \"@id\""},
    /* references, extends, components */
    {"{" V2ID "\"contents\":[{\"@type\":\"Component\",\"name\":\"c\",\"schema\":\"dtmi:x:b;1\"}]}",
     "$.contents[0].schema", "unresolved interface \"dtmi:x:b;1\""},
    {"{" V2ID "\"extends\":\"dtmi:x:b;1\"}", "$.extends", "unresolved interface \"dtmi:x:b;1\""},
    {"{" V2ID "\"extends\":[\"dtmi:x:b;1\",\"dtmi:x:c;1\",\"dtmi:x:d;1\"]}", "$.extends",
     "more than 2"},
    {"{" V2ID "\"extends\":5}", "$.extends", "must be an Interface @id or an inline Interface"},
    {"{" V2ID "\"extends\":\"dtmi:x:a;1\"}", "$.extends", "extends cycle through \"dtmi:x:a;1\""},
    {"[{" V2 "\"@id\":\"dtmi:x:r;1\",\"extends\":\"dtmi:x:a;1\"},"
     "{" V2 "\"@id\":\"dtmi:x:a;1\",\"extends\":\"dtmi:x:b;1\"},"
     "{" V2 "\"@id\":\"dtmi:x:b;1\",\"extends\":\"dtmi:x:a;1\"}]",
     "$[2].extends", "extends cycle through \"dtmi:x:a;1\""},
    {"[{" V2 "\"@id\":\"dtmi:x:r;1\",\"extends\":\"dtmi:x:a;1\",\"contents\":[" TEL(
         "t", "\"long\"") "]}," IFACE("dtmi:x:a;1", TEL("t", "\"double\"")) "]",
     "$[0].contents[0].name", "duplicate name \"t\" (also at $[1].contents[0])"},
    {"[{" V2 "\"@id\":\"dtmi:x:r;1\",\"contents\":[{\"@type\":\"Component\",\"name\":\"c\","
     "\"schema\":\"dtmi:x:a;1\"}]}," IFACE(
         "dtmi:x:a;1", "{\"@type\":\"Component\",\"name\":\"d\","
                       "\"schema\":\"dtmi:x:b;1\"}") "," IFACE("dtmi:x:b;1", "") "]",
     "$[1].contents[0]", "Components cannot nest"},
    {"[{" V2 "\"@id\":\"dtmi:x:r;1\",\"contents\":[" TEL(
         "c", "\"long\"") ",{\"@type\":"
                          "\"Component\",\"name\":\"c\",\"schema\":\"dtmi:x:a;1\"}]}," IFACE(
                              "dtmi:x:a;1", "") "]",
     "$[0].contents[1].name", "duplicate name \"c\""},
    /* v1 */
    {"{" V1 "\"@id\":\"urn:x:m:1\",\"@type\":\"CapabilityModel\",\"implements\":[{\"name\":\"a\","
     "\"schema\":\"dtmi:x;1\"}]}",
     "$.implements[0].schema", "unresolved interface \"dtmi:x;1\""},
    {"{" V1 "\"@id\":\"urn:x:m:1\",\"@type\":\"CapabilityModel\",\"implements\":[{\"schema\":"
     "{\"@type\":\"Interface\"}}]}",
     "$.implements[0]", "missing \"name\""},
    {"{" V1 "\"@id\":\"urn:x:m:1\",\"@type\":\"CapabilityModel\",\"implements\":[{\"name\":\"a\","
     "\"schema\":{\"@type\":\"Interface\",\"contents\":[" TEL(
         "t", "\"double\"") "]}},{\"name\":"
                            "\"b\",\"schema\":{\"@type\":\"Interface\",\"contents\":[" TEL(
                                "t", "\"long\"") "]}}]}",
     "$.implements[1].schema.contents[0].name",
     "duplicate name \"t\" (also at $.implements[0].schema.contents[0])"},
    {"{" V1 "\"@id\":\"urn:x:m:1\",\"@type\":\"CapabilityModel\",\"implements\":[{\"name\":\"a\","
     "\"schema\":{\"@type\":\"Interface\"}},{\"name\":\"a\",\"schema\":{\"@type\":\"Interface\"}}]"
     "}",
     "$.implements[1].name", "duplicate interface instance name \"a\""},
    {"{" V1 "\"@type\":\"CapabilityModel\",\"implements\":[]}", "$", "missing \"@id\""},
    {"{" V1 "\"@id\":\"urn:x:m:1\",\"@type\":\"CapabilityModel\",\"implements\":{}}",
     "$.implements", "must be an array"},
    {"{" V1 "\"@id\":\"urn:x:m:1\",\"@type\":\"Interface\",\"contents\":[{\"@type\":\"Component\","
     "\"name\":\"c\",\"schema\":\"urn:x:y:1\"}]}",
     "$.contents[0].@type", "unknown @type \"Component\""},
    {"{" V1 "\"@id\":\"urn:x:m:1\",\"@type\":\"Interface\",\"extends\":\"urn:x:b:1\"}", "$.extends",
     "not part of DTDL v1"},
    {"{" V1
     "\"@id\":\"urn:x:m:1\",\"@type\":\"Interface\",\"contents\":[" TEL("9t", "\"double\"") "]}",
     "$.contents[0].name", "must start with a letter or '_'"},
    {"{" V1 "\"@type\":\"Interface\",\"contents\":[]}", "$", "missing \"@id\""},
    /* DeviceTemplate wrapper */
    {"{\"@id\":\"dtmi:x:tpl;1\",\"@type\":[\"ModelDefinition\",\"DeviceModel\"],"
     "\"capabilityModel\":{" V2ID "\"contents\":[" TEL("t", "\"doubel\"") "]}}",
     "$.capabilityModel.contents[0].schema", "unknown schema \"doubel\""},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *b = &bad_cases[i];
        struct dtdl_model *m = (struct dtdl_model *)&m; /* must be reset to NULL */
        struct dtdl_error err;
        int rc = dtdl_import(b->json, strlen(b->json), &m, &err);
        if (rc != IOTC_E_MALFORMED || m != NULL)
            fail_msg("case %zu: rc %d (want malformed) for %s", i, rc, b->json);
        if (strcmp(err.path, b->path) != 0 || strstr(err.message, b->reason) == NULL)
            fail_msg("case %zu: got %s: %s\n  want %s: ...%s...", i, err.path, err.message, b->path,
                     b->reason);
    }
}

static void test_api_errors(void **state)
{
    (void)state;
    struct dtdl_model *m = NULL;
    struct dtdl_error err;
    assert_int_equal(dtdl_import(NULL, 5, &m, &err), IOTC_E_ARG);
    assert_int_equal(dtdl_import("{}", 2, NULL, &err), IOTC_E_ARG);
    assert_int_equal(dtdl_import_cjson(NULL, &m, &err), IOTC_E_ARG);
    /* err is optional */
    assert_int_equal(dtdl_import("{", 1, &m, NULL), IOTC_E_MALFORMED);
    assert_null(m);
    /* the length bounds the input: a valid model followed by junk that is not passed */
    const char *txt = "{" V2ID "\"contents\":[" TEL("t", "\"double\"") "]}garbage";
    assert_int_equal(dtdl_import(txt, strlen(txt) - 7, &m, &err), IOTC_OK);
    assert_string_equal(err.path, "");
    dtdl_model_free(m);
    dtdl_model_free(NULL);
    assert_null(dtdl_find(NULL, "", "t"));
    /* too large */
    char *big = malloc(DTDL_MAX_INPUT + 1);
    assert_non_null(big);
    memset(big, ' ', DTDL_MAX_INPUT + 1);
    assert_int_equal(dtdl_import(big, DTDL_MAX_INPUT + 1, &m, &err), IOTC_E_TOOBIG);
    free(big);
}

/* v2 limits: 300 contents per Interface, including those inherited through extends. */
static void test_v2_content_limit(void **state)
{
    (void)state;
    for (int total = 300; total <= 301; total++) {
        size_t cap = 64 * 1024, o = 0;
        char *buf = malloc(cap);
        assert_non_null(buf);
        o += (size_t)snprintf(buf + o, cap - o,
                              "[{" V2 "\"@id\":\"dtmi:x:r;1\",\"extends\":\"dtmi:x:b;1\","
                              "\"contents\":[");
        for (int i = 0; i < total - 100; i++)
            o += (size_t)snprintf(buf + o, cap - o, "%s" TEL("r%d", "\"long\""), i ? "," : "", i);
        o += (size_t)snprintf(buf + o, cap - o, "]},{" V2 "\"@id\":\"dtmi:x:b;1\",\"contents\":[");
        for (int i = 0; i < 100; i++)
            o += (size_t)snprintf(buf + o, cap - o, "%s" TEL("b%d", "\"long\""), i ? "," : "", i);
        o += (size_t)snprintf(buf + o, cap - o, "]}]");
        struct dtdl_model *m = NULL;
        struct dtdl_error err;
        int rc = dtdl_import(buf, o, &m, &err);
        if (total == 300) {
            assert_int_equal(rc, IOTC_OK);
            assert_int_equal(m->n_caps, 300);
            assert_string_equal(m->caps[0].name, "b0"); /* inherited contents come first */
            dtdl_model_free(m);
        } else {
            assert_int_equal(rc, IOTC_E_MALFORMED);
            assert_string_equal(err.path, "$[0]");
            assert_non_null(strstr(err.message, "more than 300 contents"));
        }
        free(buf);
    }
}

/* Guards against hostile documents: more than 1000 Interfaces is refused as too big. */
static void test_interface_guard(void **state)
{
    (void)state;
    size_t cap = 128 * 1024, o = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    buf[o++] = '[';
    for (int i = 0; i < 1001; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s{" V2 "\"@id\":\"dtmi:x:i%d;1\"}", i ? "," : "",
                              i);
    buf[o++] = ']';
    struct dtdl_model *m = NULL;
    struct dtdl_error err;
    assert_int_equal(dtdl_import(buf, o, &m, &err), IOTC_E_TOOBIG);
    assert_null(m);
    assert_string_equal(err.path, "$[1000]");
    assert_non_null(strstr(err.message, "more than 1000 Interfaces"));
    free(buf);
}

/* An error deep inside nested inline Interfaces keeps the end of its path. */
static void test_long_error_path(void **state)
{
    (void)state;
    for (int levels = 14; levels <= 40; levels += 26) {
        char buf[8192];
        size_t o = 0;
        o += (size_t)snprintf(buf + o, sizeof buf - o, "{" V2ID "\"contents\":[");
        for (int i = 0; i < levels; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o,
                                  "{\"@type\":\"Component\",\"name\":\"c\",\"schema\":{"
                                  "\"@type\":\"Interface\",%s\"contents\":[",
                                  i == levels - 1 ? "\"@id\":\"bad\"," : "");
        for (int i = 0; i < levels; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "]}}");
        o += (size_t)snprintf(buf + o, sizeof buf - o, "]}");
        assert_true(o < sizeof buf);
        struct dtdl_model *m = NULL;
        struct dtdl_error err;
        assert_int_equal(dtdl_import(buf, o, &m, &err), IOTC_E_MALFORMED);
        assert_int_equal(strncmp(err.path, "...", 3), 0);
        assert_int_equal(strlen(err.path), sizeof err.path - 1);
        if (levels == 14) /* the whole path fits the internal buffer: its end is kept */
            assert_non_null(strstr(err.path, ".contents[0].schema.@id"));
        assert_non_null(strstr(err.message, "invalid DTMI \"bad\""));
    }
}

/* ---- accepted variants ---- */

static void test_v2_features(void **state)
{
    (void)state;
    /* array whose root is not first; extends as inline object and diamond; inline Component
     * schema; Interface schemas reused; iotcentral context; localized names; Relationship */
    /* clang-format off */
    const char *doc =
        "[{" V2 "\"@id\":\"dtmi:x:base;1\",\"contents\":[" TEL("b", "\"long\"") "]},"
        "{\"@context\":[\"dtmi:dtdl:context;2\",\"dtmi:iotcentral:context;2\"],"
        " \"@type\":\"Interface\",\"@id\":\"dtmi:x:root;1\","
        " \"displayName\":{\"fr\":\"Racine\",\"en-GB\":\"Root\"},"
        " \"extends\":[\"dtmi:x:base;1\","
        "   {\"@type\":\"Interface\",\"@id\":\"dtmi:x:mid;1\",\"extends\":\"dtmi:x:base;1\","
        "    \"contents\":[" TEL("m", "\"dtmi:x:vec;1\"") "]}],"
        " \"schemas\":[{\"@id\":\"dtmi:x:vec;1\",\"@type\":\"Object\",\"fields\":["
        "   {\"name\":\"x\",\"schema\":\"double\"},{\"name\":\"y\",\"schema\":\"double\"}]}],"
        " \"contents\":["
        "  {\"@type\":[\"Property\",\"Cloud\"],\"name\":\"note\",\"schema\":\"string\","
        "   \"writable\":true},"
        "  {\"@type\":\"Relationship\",\"name\":\"rel\",\"target\":\"dtmi:x:other;1\"},"
        "  {\"@type\":\"Component\",\"name\":\"cam\",\"schema\":{"
        "    \"@type\":\"Interface\",\"@id\":\"dtmi:x:cam;1\",\"displayName\":\"Camera\","
        "    \"contents\":[" TEL("frame", "\"dtmi:x:vec;1\"") ","
        "     {\"@type\":\"Command\",\"name\":\"snap\","
        "      \"request\":{\"@type\":\"CommandPayload\",\"name\":\"when\",\"schema\":\"dateTime\"},"
        "      \"response\":{\"name\":\"at\",\"schema\":{\"@type\":\"Map\","
        "        \"mapKey\":{\"name\":\"k\",\"schema\":\"string\"},"
        "        \"mapValue\":{\"name\":\"v\","
        "          \"schema\":\"dtmi:standard:schema:geospatial:point;2\"}}}}]}}]}]";
    /* clang-format on */
    struct dtdl_model *m = import_ok(doc, strlen(doc));
    assert_string_equal(m->id, "dtmi:x:root;1");
    assert_string_equal(m->display_name, "Root"); /* en-* preferred over the first entry */
    assert_int_equal(m->n_components, 2);
    assert_string_equal(m->components[1].name, "cam");
    /* no displayName on the Component: its Interface's is used */
    assert_string_equal(m->components[1].display_name, "Camera");
    assert_int_equal(m->n_caps, 5); /* b once despite the diamond, m, note, frame, snap */
    assert_string_equal(m->caps[0].name, "b");
    assert_string_equal(m->caps[1].name, "m");
    assert_string_equal(m->caps[1].interface_id, "dtmi:x:mid;1");
    assert_ptr_equal(m->caps[1].schema, dtdl_find(m, "cam", "frame")->schema); /* shared */
    assert_string_equal(m->caps[1].schema->id, "dtmi:x:vec;1");
    const struct dtdl_capability *note = dtdl_find(m, "", "note");
    assert_true(note->cloud);
    assert_true(note->writable);
    assert_null(note->semantic_type);
    assert_null(dtdl_find(m, "", "rel"));
    const struct dtdl_capability *snap = dtdl_find(m, "cam", "snap");
    assert_int_equal(snap->request->schema->type, DTDL_SCHEMA_DATETIME);
    assert_int_equal(snap->response->schema->type, DTDL_SCHEMA_MAP);
    assert_int_equal(snap->response->schema->map_value.schema->type, DTDL_SCHEMA_POINT);

    /* JSON rendering for the REST API */
    cJSON *j = dtdl_to_json(m);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "dtdlVersion")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(j, "displayName")->child->valuestring, "Racine");
    cJSON *caps = cJSON_GetObjectItem(j, "capabilities");
    assert_int_equal(cJSON_GetArraySize(caps), 5);
    cJSON *c1 = cJSON_GetArrayItem(caps, 1);
    cJSON *s1 = cJSON_GetObjectItem(c1, "schema");
    assert_string_equal(cJSON_GetObjectItem(s1, "@type")->valuestring, "Object");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s1, "fields")), 2);
    cJSON *c4 = cJSON_GetArrayItem(caps, 4);
    assert_string_equal(cJSON_GetObjectItem(c4, "component")->valuestring, "cam");
    assert_string_equal(cJSON_GetObjectItem(c4, "kind")->valuestring, "command");
    cJSON *resp = cJSON_GetObjectItem(cJSON_GetObjectItem(c4, "response"), "schema");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "mapValue"), "schema")->valuestring, "point");
    cJSON_Delete(j);

    /* a second import from the parsed tree gives the same model */
    cJSON *tree = cJSON_Parse(doc);
    struct dtdl_model *m2 = NULL;
    struct dtdl_error err;
    assert_int_equal(dtdl_import_cjson(tree, &m2, &err), IOTC_OK);
    cJSON_Delete(tree);
    assert_int_equal(m2->n_caps, m->n_caps);
    assert_string_equal(m2->caps[4].name, "snap");
    dtdl_model_free(m2);
    dtdl_model_free(m);
}

static void test_template_wrapper_and_enum(void **state)
{
    (void)state;
    const char *doc =
        "{\"@id\":\"dtmi:x:tpl;1\",\"@type\":[\"ModelDefinition\",\"DeviceModel\"],"
        "\"displayName\":\"Template\",\"@context\":[\"dtmi:iotcentral:context;2\","
        "\"dtmi:dtdl:context;2\"],\"capabilityModel\":{\"@type\":\"Interface\","
        "\"@id\":\"dtmi:x:cm;1\",\"contents\":[{\"@type\":\"Property\",\"name\":\"mode\","
        "\"writable\":true,\"schema\":{\"@type\":\"Enum\",\"valueSchema\":\"string\","
        "\"enumValues\":[{\"name\":\"on\",\"enumValue\":\"ON\",\"displayName\":\"On\"},"
        "{\"name\":\"off\",\"enumValue\":\"OFF\"}]}}]}}";
    struct dtdl_model *m = import_ok(doc, strlen(doc));
    assert_string_equal(m->id, "dtmi:x:cm;1");
    assert_string_equal(m->template_id, "dtmi:x:tpl;1");
    assert_int_equal(m->version, 2);
    const struct dtdl_schema *e = dtdl_find(m, "", "mode")->schema;
    assert_int_equal(e->type, DTDL_SCHEMA_ENUM);
    assert_int_equal(e->value_schema, DTDL_SCHEMA_STRING);
    assert_int_equal(e->n_enum_values, 2);
    assert_string_equal(e->enum_values[0].str, "ON");
    assert_string_equal(e->enum_values[0].display_name, "On");
    cJSON *j = dtdl_schema_to_json(e);
    char *txt = cJSON_PrintUnformatted(j);
    assert_string_equal(txt, "{\"@type\":\"Enum\",\"valueSchema\":\"string\",\"enumValues\":["
                             "{\"name\":\"on\",\"displayName\":\"On\",\"enumValue\":\"ON\"},"
                             "{\"name\":\"off\",\"enumValue\":\"OFF\"}]}");
    free(txt);
    cJSON_Delete(j);
    dtdl_model_free(m);
}

/* ---- value checks ---- */

struct value_case {
    const char *schema; /* JSON text of a Telemetry schema */
    const char *value;
    bool ok;
    const char *why; /* substring when !ok */
};

#define OBJ_BLINK \
    "{\"@type\":\"Object\",\"fields\":[{\"name\":\"description\",\"schema\":\"string\"}]}"
#define ENUM_INT                                                                          \
    "{\"@type\":\"Enum\",\"valueSchema\":\"integer\",\"enumValues\":[{\"name\":\"high\"," \
    "\"enumValue\":1},{\"name\":\"medium\",\"enumValue\":2},{\"name\":\"low\",\"enumValue\":3}]}"
#define MAP_DBL                                                                                    \
    "{\"@type\":\"Map\",\"mapKey\":{\"name\":\"k\",\"schema\":\"string\"},\"mapValue\":{\"name\":" \
    "\"v\",\"schema\":\"double\"}}"
#define ARR_INT "{\"@type\":\"Array\",\"elementSchema\":\"integer\"}"

static const struct value_case value_cases[] = {
    {"\"double\"", "21.5", true, NULL},
    {"\"double\"", "\"21.5\"", false, "$: expected double, got string \"21.5\""},
    {"\"double\"", "null", false, "expected double, got null"},
    /* the 2020 tutorial device reports state as the string "true" */
    {"\"boolean\"", "\"true\"", false, "$: expected boolean, got string \"true\""},
    {"\"boolean\"", "false", true, NULL},
    {"\"integer\"", "2147483647", true, NULL},
    {"\"integer\"", "-2147483648", true, NULL},
    {"\"integer\"", "2147483648", false, "out of the integer range"},
    {"\"integer\"", "1.5", false, "non-integral"},
    {"\"long\"", "74", true, NULL},
    {"\"long\"", "-9223372036854775808", true, NULL},
    {"\"long\"", "1e19", false, "out of the long range"},
    {"\"long\"", "true", false, "expected long, got boolean"},
    {"\"float\"", "3.5", true, NULL},
    {"\"float\"", "1e39", false, "out of the float range"},
    {"\"double\"", "1e999", false, "not finite"},
    {"\"string\"", "\"ARM\"", true, NULL},
    {"\"string\"", "5", false, "expected string, got number 5"},
    {"\"date\"", "\"2020-02-29\"", true, NULL},
    {"\"date\"", "\"2021-02-29\"", false, "not a valid date"},
    {"\"date\"", "\"2021-13-01\"", false, "not a valid date"},
    {"\"dateTime\"", "\"2021-03-24T12:55:20.789Z\"", true, NULL},
    {"\"dateTime\"", "\"2021-03-24T12:55:20+01:00\"", true, NULL},
    {"\"dateTime\"", "\"2021-03-24 12:55:20\"", false, "not a valid dateTime"},
    {"\"dateTime\"", "\"2021-03-24T12:55:20\"", false, "not a valid dateTime"},
    {"\"time\"", "\"12:55:20\"", true, NULL},
    {"\"time\"", "\"25:00:00\"", false, "not a valid time"},
    {"\"duration\"", "\"PT1H30M\"", true, NULL},
    {"\"duration\"", "\"P1Y2M3DT4H5M6.5S\"", true, NULL},
    {"\"duration\"", "\"P2W\"", true, NULL},
    {"\"duration\"", "\"PT\"", false, "not a valid duration"},
    {"\"duration\"", "\"P\"", false, "not a valid duration"},
    {"\"duration\"", "\"P1H\"", false, "not a valid duration"},
    {"\"duration\"", "\"PT1.5H2M\"", false, "not a valid duration"},
    {OBJ_BLINK, "{\"description\":\"Blinking LED every 5 seconds\"}", true, NULL},
    {OBJ_BLINK, "{}", true, NULL},
    {OBJ_BLINK, "{\"description\":5}", false, "$.description: expected string, got number"},
    {OBJ_BLINK, "{\"other\":1}", false, "$.other: not a field of the Object"},
    {OBJ_BLINK, "[]", false, "expected Object, got array"},
    {ENUM_INT, "2", true, NULL},
    {ENUM_INT, "4", false, "4 is not one of the Enum values (1, 2, 3)"},
    {ENUM_INT, "\"2\"", false, "expected Enum integer value, got string"},
    {MAP_DBL, "{\"a\":1,\"b\":2.5}", true, NULL},
    {MAP_DBL, "{\"a\":1,\"b c\":\"x\"}", false, "$[\"b c\"]: expected double"},
    {ARR_INT, "[1,2,3]", true, NULL},
    {ARR_INT, "[1,\"x\"]", false, "$[1]: expected integer, got string \"x\""},
    {"\"point\"", "{\"type\":\"Point\",\"coordinates\":[47.64,-122.13]}", true, NULL},
    {"\"point\"", "{\"type\":\"Point\",\"coordinates\":[47.64]}", false, "invalid GeoJSON"},
    {"\"lineString\"", "{\"type\":\"LineString\",\"coordinates\":[[1,2],[3,4]]}", true, NULL},
    {"\"lineString\"", "{\"type\":\"LineString\",\"coordinates\":[[1,2]]}", false,
     "invalid GeoJSON"},
    {"\"polygon\"", "{\"type\":\"Point\",\"coordinates\":[1,2]}", false, "\"type\": \"Polygon\""},
};

static void test_check_value(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof value_cases / sizeof value_cases[0]; i++) {
        const struct value_case *vc = &value_cases[i];
        char doc[1024];
        snprintf(doc, sizeof doc, "{" V2ID "\"contents\":[" TEL("v", "%s") "]}", vc->schema);
        struct dtdl_model *m = import_ok(doc, strlen(doc));
        const struct dtdl_capability *c = dtdl_find(m, "", "v");
        cJSON *val = cJSON_Parse(vc->value);
        assert_non_null(val);
        char why[256];
        bool ok = dtdl_check_value(c->schema, val, why, sizeof why);
        if (ok != vc->ok)
            fail_msg("value case %zu (%s vs %s): got %d (%s)", i, vc->value, vc->schema, ok, why);
        if (!ok && strstr(why, vc->why) == NULL)
            fail_msg("value case %zu: why \"%s\", want \"%s\"", i, why, vc->why);
        if (ok)
            assert_string_equal(why, "");
        /* why is optional */
        assert_int_equal(dtdl_check_value(c->schema, val, NULL, 0), vc->ok);
        cJSON_Delete(val);
        dtdl_model_free(m);
    }
}

/* ---- allocation failure at every step ---- */

static long alloc_calls, alloc_fail_at, alloc_live;

static void *counting_malloc(size_t n)
{
    if (++alloc_calls == alloc_fail_at)
        return NULL;
    void *p = malloc(n);
    if (p != NULL)
        alloc_live++;
    return p;
}

static void counting_free(void *p)
{
    if (p != NULL)
        alloc_live--;
    free(p);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    size_t len = 0;
    char *buf = read_file("models/environmental-sensor.dcm.v1.json", &len);
    assert_non_null(buf);
    const char *v2 =
        "[{" V2 "\"@id\":\"dtmi:x:r;1\",\"extends\":\"dtmi:x:b;1\",\"schemas\":[{"
        "\"@id\":\"dtmi:x:o;1\",\"@type\":\"Object\",\"fields\":[{\"name\":\"a\","
        "\"schema\":\"long\"}]}],\"contents\":[" TEL(
            "t", "\"dtmi:x:o;1\"") ","
                                   "{\"@type\":\"Component\",\"name\":\"c\",\"schema\":\"dtmi:x:b;"
                                   "1\"}]},"
                                   "{" V2
                                   "\"@id\":\"dtmi:x:b;1\",\"contents\":[" TEL("u", ENUM_INT) "]}]";
    const char *docs[] = {buf, v2};
    size_t lens[] = {len, strlen(v2)};
    cJSON_Hooks hooks = {counting_malloc, counting_free};
    for (size_t d = 0; d < 2; d++) {
        bool succeeded = false;
        long n;
        for (n = 1; n < 100000 && !succeeded; n++) {
            alloc_calls = 0;
            alloc_fail_at = n;
            alloc_live = 0;
            cJSON_InitHooks(&hooks);
            struct dtdl_model *m = NULL;
            struct dtdl_error err;
            int rc = dtdl_import(docs[d], lens[d], &m, &err);
            if (rc == IOTC_OK) {
                cJSON *j = dtdl_to_json(m);
                cJSON_Delete(j);
                succeeded = j != NULL && alloc_calls < n;
                dtdl_model_free(m);
            } else {
                assert_null(m);
                /* cJSON's parser cannot tell us it ran out of memory */
                if (rc != IOTC_E_NOMEM && rc != IOTC_E_MALFORMED)
                    fail_msg("doc %zu, failing allocation %ld: rc %d", d, n, rc);
            }
            cJSON_InitHooks(NULL);
            if (alloc_live != 0)
                fail_msg("doc %zu, failing allocation %ld: %ld blocks leaked", d, n, alloc_live);
        }
        assert_true(succeeded);
        print_message("doc %zu: survived a failure at each of its %ld allocations\n", d,
                      alloc_calls);
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tutorial_v1_dcm),
        cmocka_unit_test(test_tutorial_v2_flat),
        cmocka_unit_test(test_tutorial_v2_components),
        cmocka_unit_test(test_facts_match_csv),
        cmocka_unit_test(test_project_v2),
        cmocka_unit_test(test_project_v1),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_v2_content_limit),
        cmocka_unit_test(test_interface_guard),
        cmocka_unit_test(test_long_error_path),
        cmocka_unit_test(test_v2_features),
        cmocka_unit_test(test_template_wrapper_and_enum),
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests_name("dtdl", tests, NULL, NULL);
}
