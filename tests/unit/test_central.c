/*
 * test_central.c - IoT Central property/ack/command conventions (docs/PROTOCOL.md §7).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <iotc/central.h>
#include <iotc/codec.h>
#include <iotc/json.h>

#define S(x) iotc_span_from_cstr(x)

static void test_ack(void **state)
{
    char out[256];
    size_t n;
    (void)state;
    assert_int_equal(iotc_central_ack_build(IOTC_SPAN_NULL, S("targetTemperature"), S("57"), 200, 3,
                                            S("completed"), out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(
        out, "{\"targetTemperature\":{\"value\":57,\"ac\":200,\"av\":3,\"ad\":\"completed\"}}");
    assert_int_equal(n, strlen(out));
    assert_int_equal(iotc_central_ack_build(S("thermostat2"), S("targetTemperature"), S("57"), 200,
                                            3, S("completed"), out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"thermostat2\":{\"__t\":\"c\",\"targetTemperature\":{\"value\":57,"
                             "\"ac\":200,\"av\":3,\"ad\":\"completed\"}}}");
    assert_int_equal(iotc_central_ack_build(IOTC_SPAN_NULL, S("t"), S("20.0"), 203, 0,
                                            S("initialize"), out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"t\":{\"value\":20.0,\"ac\":203,\"av\":0,\"ad\":\"initialize\"}}");
    /* no description, object value, escaping in names and text */
    assert_int_equal(iotc_central_ack_build(IOTC_SPAN_NULL, S("a\"b"), S("{\"x\":[1]}"), 400, 9,
                                            IOTC_SPAN_NULL, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"a\\\"b\":{\"value\":{\"x\":[1]},\"ac\":400,\"av\":9}}");
    assert_int_equal(iotc_central_ack_build(IOTC_SPAN_NULL, S("t"), S("1"), 500, 1, S("bad\nline"),
                                            out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"t\":{\"value\":1,\"ac\":500,\"av\":1,\"ad\":\"bad\\nline\"}}");
    /* errors */
    assert_int_equal(iotc_central_ack_build(IOTC_SPAN_NULL, S(""), S("1"), 200, 1, IOTC_SPAN_NULL,
                                            out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_central_ack_build(IOTC_SPAN_NULL, S("t"), S("nope"), 200, 1,
                                            IOTC_SPAN_NULL, out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_central_ack_build(IOTC_SPAN_NULL, S("t"), IOTC_SPAN_NULL, 200, 1,
                                            IOTC_SPAN_NULL, out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_central_ack_build(IOTC_SPAN_NULL, S("t"), S("1"), 200, 1, S("\xff"), out,
                                            sizeof(out), &n),
                     IOTC_E_ARG);
    memset(out, 'x', sizeof(out));
    assert_int_equal(
        iotc_central_ack_build(IOTC_SPAN_NULL, S("t"), S("1"), 200, 1, IOTC_SPAN_NULL, out, 10, &n),
        IOTC_E_NOSPACE);
    assert_int_equal(n, strlen("{\"t\":{\"value\":1,\"ac\":200,\"av\":1}}"));
    assert_int_equal(out[0], 'x');
}

static void test_property(void **state)
{
    char out[256];
    size_t n;
    (void)state;
    assert_int_equal(iotc_central_property_build(IOTC_SPAN_NULL, S("serialNumber"), S("\"SN-1\""),
                                                 out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"serialNumber\":\"SN-1\"}");
    assert_int_equal(iotc_central_property_build(S("thermostat1"), S("maxTempSinceLastReboot"),
                                                 S("38.7"), out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"thermostat1\":{\"__t\":\"c\",\"maxTempSinceLastReboot\":38.7}}");
    assert_int_equal(iotc_central_property_build(S(""), S("x"), S("null"), out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"x\":null}");
    assert_int_equal(
        iotc_central_property_build(IOTC_SPAN_NULL, S("x"), S("1 2"), out, sizeof(out), &n),
        IOTC_E_ARG);
}

static void test_command_complete(void **state)
{
    char out[256];
    size_t n;
    (void)state;
    assert_int_equal(iotc_central_command_complete_build(IOTC_SPAN_NULL, S("rundiagnostics"),
                                                         S("Diagnostics run complete at 10:00"),
                                                         out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out,
                        "{\"rundiagnostics\":{\"value\":\"Diagnostics run complete at 10:00\"}}");
    assert_int_equal(iotc_central_command_complete_build(S("deviceInformation"),
                                                         S("rundiagnostics"), S("done \"ok\""), out,
                                                         sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"deviceInformation\":{\"__t\":\"c\",\"rundiagnostics\":{\"value\":"
                             "\"done \\\"ok\\\"\"}}}");
    assert_int_equal(
        iotc_central_command_complete_build(IOTC_SPAN_NULL, S(""), S("x"), out, sizeof(out), &n),
        IOTC_E_ARG);
}

static void test_is_component(void **state)
{
    static const struct {
        const char *json;
        bool is;
    } vecs[] = {
        {"{\"__t\":\"c\",\"targetTemperature\":57}", true},
        {"{\"targetTemperature\":57,\"__t\":\"c\"}", true},
        {"{\"__t\":\"\\u0063\"}", true},
        {"{\"targetTemperature\":57}", false},
        {"{\"__t\":\"d\"}", false},
        {"{\"__t\":1}", false},
        {"[\"__t\",\"c\"]", false},
        {"\"c\"", false},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
        struct iotc_json_value v;
        assert_int_equal(iotc_json_parse(S(vecs[i].json), &v), IOTC_OK);
        assert_int_equal(iotc_central_is_component(v), vecs[i].is);
    }
    /* desired patch of §7.4: the component object is marked, the root is not */
    struct iotc_json_value root, comp;
    assert_int_equal(iotc_json_parse(S("{\"thermostat2\":{\"targetTemperature\":57,\"__t\":\"c\"},"
                                       "\"$version\":3}"),
                                     &root),
                     IOTC_OK);
    assert_false(iotc_central_is_component(root));
    assert_int_equal(iotc_json_object_find(root, S("thermostat2"), &comp), IOTC_OK);
    assert_true(iotc_central_is_component(comp));
}

struct split_vec {
    const char *name;
    int rc;
    const char *comp, *cmd;
};
static const struct split_vec split_vecs[] = {
    {"thermostat1*getMaxMinReport", IOTC_OK, "thermostat1", "getMaxMinReport"},
    {"reboot", IOTC_OK, NULL, "reboot"},
    {"a*b*c", IOTC_OK, "a", "b*c"},
    {"*cmd", IOTC_E_MALFORMED, NULL, NULL},
    {"comp*", IOTC_E_MALFORMED, NULL, NULL},
    {"", IOTC_E_MALFORMED, NULL, NULL},
};

static void test_split_join(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(split_vecs) / sizeof(split_vecs[0]); i++) {
        const struct split_vec *v = &split_vecs[i];
        struct iotc_span comp, cmd;
        assert_int_equal(iotc_central_command_split(S(v->name), &comp, &cmd), v->rc);
        if (v->rc < 0)
            continue;
        if (v->comp == NULL) {
            assert_null(comp.ptr);
        } else {
            assert_int_equal(comp.len, strlen(v->comp));
            assert_memory_equal(comp.ptr, v->comp, comp.len);
        }
        assert_int_equal(cmd.len, strlen(v->cmd));
        assert_memory_equal(cmd.ptr, v->cmd, cmd.len);
        char out[64];
        size_t n;
        assert_int_equal(iotc_central_command_join(comp, cmd, out, sizeof(out), &n), IOTC_OK);
        assert_string_equal(out, v->name);
    }
    char out[64];
    size_t n;
    assert_int_equal(iotc_central_command_join(S("a*b"), S("c"), out, sizeof(out), &n), IOTC_E_ARG);
    assert_int_equal(iotc_central_command_join(S("a"), S(""), out, sizeof(out), &n), IOTC_E_ARG);
    assert_int_equal(iotc_central_command_join(S("a"), S("c"), out, 3, &n), IOTC_OK);
    assert_memory_equal(out, "a*c", 3);
    assert_int_equal(iotc_central_command_join(S("a"), S("c"), out, 2, &n), IOTC_E_NOSPACE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_property),
        cmocka_unit_test(test_command_complete),
        cmocka_unit_test(test_is_component),
        cmocka_unit_test(test_split_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
