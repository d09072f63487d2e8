/*
 * test_dps.c - DPS username, topics and bodies with the exact strings of docs/PROTOCOL.md §4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <iotc/codec.h>
#include <iotc/dps.h>
#include <iotc/json.h>

#define S(x) iotc_span_from_cstr(x)

static const char *OPID = "4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d";

static void expect_span(struct iotc_span got, const char *want)
{
    if (want == NULL) {
        assert_null(got.ptr);
        return;
    }
    assert_non_null(got.ptr);
    if (got.len != strlen(want) || memcmp(got.ptr, want, got.len) != 0)
        fail_msg("got '%.*s' want '%s'", (int)got.len, got.ptr, want);
}

static void test_username_build(void **state)
{
    char out[200];
    size_t n;
    (void)state;
    assert_int_equal(iotc_dps_username_build(S("0neFEEDC0DE"), S("myRegistrationId"),
                                             IOTC_SPAN_NULL, IOTC_SPAN_NULL, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "0neFEEDC0DE/registrations/myRegistrationId/api-version=2019-03-31");
    assert_int_equal(iotc_dps_username_build(S("0ne00000A0A"), S("dev1"), IOTC_SPAN_NULL,
                                             S("azure-iot-provisioning-device/1.9.2"), out,
                                             sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "0ne00000A0A/registrations/dev1/api-version=2019-03-31"
                             "&ClientVersion=azure-iot-provisioning-device%2F1.9.2");
    assert_int_equal(iotc_dps_username_build(S("s"), S("r"), S("2021-06-01"), IOTC_SPAN_NULL, out,
                                             sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "s/registrations/r/api-version=2021-06-01");
    assert_int_equal(iotc_dps_username_build(S(""), S("r"), IOTC_SPAN_NULL, IOTC_SPAN_NULL, out,
                                             sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_dps_username_build(S("s"), S("a/b"), IOTC_SPAN_NULL, IOTC_SPAN_NULL, out,
                                             sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(
        iotc_dps_username_build(S("s"), S("r"), IOTC_SPAN_NULL, IOTC_SPAN_NULL, out, 10, &n),
        IOTC_E_NOSPACE);
    assert_int_equal(n, strlen("s/registrations/r/api-version=2019-03-31"));
}

struct uname_vec {
    const char *text;
    int rc;
    const char *scope, *reg, *api, *cv;
};
static const struct uname_vec uname_vecs[] = {
    {"0neFEEDC0DE/registrations/myRegistrationId/api-version=2019-03-31", IOTC_OK, "0neFEEDC0DE",
     "myRegistrationId", "2019-03-31", NULL},
    {"0neFEEDC0DE/registrations/myRegistrationId/api-version=2019-03-31&ClientVersion=c/1.2.3",
     IOTC_OK, "0neFEEDC0DE", "myRegistrationId", "2019-03-31", "c/1.2.3"},
    {"0ne00000A0A/registrations/sn-007/api-version=2019-03-31&ClientVersion="
     "azure-iot-device-provisioning-py%2F2.14.0%28linux%29",
     IOTC_OK, "0ne00000A0A", "sn-007", "2019-03-31",
     "azure-iot-device-provisioning-py%2F2.14.0%28linux%29"},
    {"s/REGISTRATIONS/r/ClientVersion=x&api-version=2021-10-01&other=1", IOTC_OK, "s", "r",
     "2021-10-01", "x"},
    {"s/registrations/r/", IOTC_OK, "s", "r", NULL, NULL},
    {"s/registrations/r", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"/registrations/r/api-version=1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"s/registrations//api-version=1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"s/registration/r/api-version=1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"s/registrations/r/api-version=%zz", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"s/registrations/r/api-version=1&api-version=2", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    /* hub module username for a device called "registrations" is not a DPS username */
    {"host/registrations/mod/?api-version=2021-04-12", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
};

static void test_username_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(uname_vecs) / sizeof(uname_vecs[0]); i++) {
        const struct uname_vec *v = &uname_vecs[i];
        struct iotc_dps_username u;
        int rc = iotc_dps_username_parse(S(v->text), &u);
        if (rc != v->rc)
            fail_msg("vector %zu '%s': rc %d want %d", i, v->text, rc, v->rc);
        if (rc < 0)
            continue;
        expect_span(u.id_scope, v->scope);
        expect_span(u.registration_id, v->reg);
        expect_span(u.api_version, v->api);
        expect_span(u.client_version, v->cv);
    }
}

static void test_request_topics(void **state)
{
    char out[200];
    size_t n;
    struct iotc_dps_request_topic t;
    (void)state;
    assert_int_equal(iotc_dps_register_topic_build(S("1"), out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out, "$dps/registrations/PUT/iotdps-register/?$rid=1");
    assert_int_equal(iotc_dps_request_topic_parse(S(out), &t), IOTC_OK);
    assert_int_equal(t.kind, IOTC_DPS_REQ_REGISTER);
    expect_span(t.rid, "1");
    assert_null(t.operation_id.ptr);

    assert_int_equal(iotc_dps_status_topic_build(S("1"), S(OPID), out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out,
                        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1"
                        "&operationId=4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d");
    assert_int_equal(iotc_dps_request_topic_parse(S(out), &t), IOTC_OK);
    assert_int_equal(t.kind, IOTC_DPS_REQ_STATUS);
    expect_span(t.rid, "1");
    expect_span(t.operation_id, OPID);

    /* any order, uuid rid, unknown keys */
    assert_int_equal(iotc_dps_request_topic_parse(
                         S("$dps/registrations/GET/iotdps-get-operationstatus/?operationId=op&x=1"
                           "&$rid=0f8fad5b-d9cb-469f-a165-70867728950e"),
                         &t),
                     IOTC_OK);
    expect_span(t.rid, "0f8fad5b-d9cb-469f-a165-70867728950e");
    expect_span(t.operation_id, "op");

    static const char *bad[] = {
        "$dps/registrations/PUT/iotdps-register/",
        "$dps/registrations/PUT/iotdps-register/?",
        "$dps/registrations/PUT/iotdps-register/?$rid=",
        "$dps/registrations/PUT/iotdps-register/?$rid=1&$rid=2",
        "$dps/registrations/PUT/iotdps-register/?$rid=%4",
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1",
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId=",
        "$dps/registrations/PUT/iotdps-registe/?$rid=1",
        "$dps/registrations/res/200/?$rid=1",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (iotc_dps_request_topic_parse(S(bad[i]), &t) != IOTC_E_MALFORMED)
            fail_msg("accepted '%s'", bad[i]);
    }
    static const char *bad_rids[] = {"", "a&b", "a=b", "a/b", "a b", "a#", "a+", "a?"};
    for (size_t i = 0; i < sizeof(bad_rids) / sizeof(bad_rids[0]); i++)
        assert_int_equal(iotc_dps_register_topic_build(S(bad_rids[i]), out, sizeof(out), &n),
                         IOTC_E_ARG);
    assert_int_equal(iotc_dps_status_topic_build(S("1"), S(""), out, sizeof(out), &n), IOTC_E_ARG);
    assert_true(iotc_dps_is_subscribe_filter(S("$dps/registrations/res/#")));
    assert_false(iotc_dps_is_subscribe_filter(S("$dps/registrations/res/+")));
}

struct resp_vec {
    const char *topic;
    int rc;
    unsigned status;
    const char *rid;
    bool has_retry;
    uint32_t retry;
};
static const struct resp_vec resp_vecs[] = {
    {"$dps/registrations/res/202/?$rid=1&retry-after=3", IOTC_OK, 202, "1", true, 3},
    {"$dps/registrations/res/200/?$rid=1", IOTC_OK, 200, "1", false, 0},
    {"$dps/registrations/res/401/?$rid=1", IOTC_OK, 401, "1", false, 0},
    {"$dps/registrations/res/202/?retry-after=120&$rid=1", IOTC_OK, 202, "1", true, 120},
    {"$dps/registrations/res/429/?$rid=x&retry-after=4294967295", IOTC_OK, 429, "x", true,
     4294967295u},
    {"$dps/registrations/res/429/?$rid=x&retry-after=4294967296", IOTC_E_MALFORMED, 0, NULL, false,
     0},
    {"$dps/registrations/res/202/?$rid=1&retry-after=abc", IOTC_E_MALFORMED, 0, NULL, false, 0},
    {"$dps/registrations/res/2000/?$rid=1", IOTC_E_MALFORMED, 0, NULL, false, 0},
    {"$dps/registrations/res/99/?$rid=1", IOTC_E_MALFORMED, 0, NULL, false, 0},
    {"$dps/registrations/res//?$rid=1", IOTC_E_MALFORMED, 0, NULL, false, 0},
    {"$dps/registrations/res/200", IOTC_E_MALFORMED, 0, NULL, false, 0},
    {"$dps/registrations/res/200/$rid=1", IOTC_E_MALFORMED, 0, NULL, false, 0},
    {"$dps/registrations/res/200/?$rid=1&$rid=2", IOTC_E_MALFORMED, 0, NULL, false, 0},
    {"$dps/registrations/re/200/?$rid=1", IOTC_E_MALFORMED, 0, NULL, false, 0},
};

static void test_response_topic(void **state)
{
    char out[100];
    size_t n;
    (void)state;
    for (size_t i = 0; i < sizeof(resp_vecs) / sizeof(resp_vecs[0]); i++) {
        const struct resp_vec *v = &resp_vecs[i];
        struct iotc_dps_response_topic t;
        int rc = iotc_dps_response_topic_parse(S(v->topic), &t);
        if (rc != v->rc)
            fail_msg("vector %zu '%s': rc %d want %d", i, v->topic, rc, v->rc);
        if (rc < 0)
            continue;
        assert_int_equal(t.status, v->status);
        expect_span(t.rid, v->rid);
        assert_int_equal(t.has_retry_after, v->has_retry);
        assert_int_equal(t.retry_after, v->retry);
    }
    assert_int_equal(iotc_dps_response_topic_build(202, S("1"), 3, out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out, "$dps/registrations/res/202/?$rid=1&retry-after=3");
    assert_int_equal(iotc_dps_response_topic_build(200, S("1"), 0, out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out, "$dps/registrations/res/200/?$rid=1");
    /* PY splits on '$': exactly two '$' in the topic, the second starting the whole query */
    assert_int_equal(iotc_dps_response_topic_build(429, S("u-u-i-d"), 2, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(strchr(out + 1, '$'), "$rid=u-u-i-d&retry-after=2");
    assert_int_equal(iotc_dps_response_topic_build(99, S("1"), 0, out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_dps_response_topic_build(1000, S("1"), 0, out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_dps_response_topic_build(200, S(""), 0, out, sizeof(out), &n),
                     IOTC_E_ARG);
}

static void test_register_body(void **state)
{
    char out[300];
    size_t n;
    struct iotc_dps_register_body b;
    char buf[64];
    (void)state;
    assert_int_equal(iotc_dps_register_body_build_model(
                         S("myDeviceId"), S("dtmi:azureiot:devkit:freertos:Esp32AzureIotKit;1"),
                         out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"registrationId\":\"myDeviceId\",\"payload\":{\"modelId\":"
                             "\"dtmi:azureiot:devkit:freertos:Esp32AzureIotKit;1\"}}");
    assert_int_equal(iotc_dps_register_body_parse(S(out), &b), IOTC_OK);
    expect_span(b.registration_id, "myDeviceId");
    expect_span(b.model_id, "dtmi:azureiot:devkit:freertos:Esp32AzureIotKit;1");
    assert_int_equal(b.payload.type, IOTC_JSON_OBJECT);

    assert_int_equal(iotc_dps_register_body_build(S("d\"1"), IOTC_SPAN_NULL, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"registrationId\":\"d\\\"1\"}");
    assert_int_equal(iotc_dps_register_body_parse(S(out), &b), IOTC_OK);
    assert_int_equal(iotc_json_unescape(b.registration_id, buf, sizeof(buf), &n), IOTC_OK);
    assert_string_equal(buf, "d\"1");
    assert_int_equal(b.payload.type, IOTC_JSON_NONE);
    assert_null(b.model_id.ptr);

    assert_int_equal(
        iotc_dps_register_body_build(S("r"), S(" {\"a\": [1]} "), out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out, "{\"registrationId\":\"r\",\"payload\":{\"a\": [1]}}");
    assert_int_equal(iotc_dps_register_body_build(S("r"), S("{bad"), out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_dps_register_body_build(S(""), IOTC_SPAN_NULL, out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_dps_register_body_build_model(S("r"), S(""), out, sizeof(out), &n),
                     IOTC_E_ARG);
    memset(out, 'x', sizeof(out));
    assert_int_equal(iotc_dps_register_body_build(S("r"), IOTC_SPAN_NULL, out, 10, &n),
                     IOTC_E_NOSPACE);
    assert_int_equal(n, strlen("{\"registrationId\":\"r\"}"));
    assert_int_equal(out[0], 'x');

    /* PY: sorted keys, spaces, and "payload": null when unset */
    assert_int_equal(
        iotc_dps_register_body_parse(
            S("{\"payload\": {\"modelId\": \"dtmi:com:example:TemperatureController;2\"}, "
              "\"registrationId\": \"dev-1\"}"),
            &b),
        IOTC_OK);
    expect_span(b.registration_id, "dev-1");
    expect_span(b.model_id, "dtmi:com:example:TemperatureController;2");
    assert_int_equal(
        iotc_dps_register_body_parse(S("{\"payload\": null, \"registrationId\": \"dev-1\"}"), &b),
        IOTC_OK);
    assert_int_equal(b.payload.type, IOTC_JSON_NULL);
    assert_null(b.model_id.ptr);
    /* poll bodies / empty */
    assert_int_equal(iotc_dps_register_body_parse(S(" "), &b), IOTC_OK);
    assert_null(b.registration_id.ptr);
    assert_int_equal(iotc_dps_register_body_parse(S(""), &b), IOTC_OK);

    static const char *bad[] = {"{",
                                "[]",
                                "\"x\"",
                                "{\"registrationId\":5}",
                                "{\"registrationId\":\"a\",\"payload\":{\"modelId\":1}}",
                                "{\"registrationId\":\"a\"} x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(iotc_dps_register_body_parse(S(bad[i]), &b), IOTC_E_MALFORMED);
}

static void test_response_body_build(void **state)
{
    char out[700];
    size_t n;
    (void)state;
    const struct iotc_dps_operation assigning = {S(OPID), IOTC_DPS_STATUS_ASSIGNING, NULL};
    assert_int_equal(iotc_dps_response_body_build(&assigning, out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(
        out, "{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\","
             "\"status\":\"assigning\"}");

    struct iotc_dps_registration_state st;
    memset(&st, 0, sizeof(st));
    st.registration_id = S("paho-sample-device1");
    st.status = IOTC_DPS_STATUS_ASSIGNING;
    struct iotc_dps_operation op = {S(OPID), IOTC_DPS_STATUS_ASSIGNING, &st};
    assert_int_equal(iotc_dps_response_body_build(&op, out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(
        out, "{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\","
             "\"status\":\"assigning\",\"registrationState\":{\"registrationId\":"
             "\"paho-sample-device1\",\"status\":\"assigning\"}}");

    /* §4.5 step 3 (without the "x509":{} member, which we never emit) */
    st.created_utc = S("2020-04-10T03:11:13.0276997Z");
    st.assigned_hub = S("contoso.azure-devices.net");
    st.device_id = S("paho-sample-device1");
    st.status = IOTC_DPS_STATUS_ASSIGNED;
    st.substatus = S("initialAssignment");
    st.last_updated_utc = S("2020-04-10T03:11:13.2096201Z");
    st.etag = S("IjYxMDA4ZDQ2LTAwMDAtMDEwMC0wMDAwLTVlOGZlM2QxMDAwMCI=");
    op.status = IOTC_DPS_STATUS_ASSIGNED;
    assert_int_equal(iotc_dps_response_body_build(&op, out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(
        out,
        "{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\",\"status\":"
        "\"assigned\","
        "\"registrationState\":{\"registrationId\":\"paho-sample-device1\",\"createdDateTimeUtc\":"
        "\"2020-04-10T03:11:13.0276997Z\",\"assignedHub\":\"contoso.azure-devices.net\","
        "\"deviceId\":"
        "\"paho-sample-device1\",\"status\":\"assigned\",\"substatus\":\"initialAssignment\","
        "\"lastUpdatedDateTimeUtc\":\"2020-04-10T03:11:13.2096201Z\",\"etag\":"
        "\"IjYxMDA4ZDQ2LTAwMDAtMDEwMC0wMDAwLTVlOGZlM2QxMDAwMCI=\"}}");
    assert_int_equal(n, strlen(out));
    size_t full = n;
    memset(out, 'x', sizeof(out));
    assert_int_equal(iotc_dps_response_body_build(&op, out, full, &n), IOTC_OK);
    assert_int_equal(out[full], 'x');
    assert_int_equal(iotc_dps_response_body_build(&op, out, full - 1, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, full);

    /* failed, with errorCode/errorMessage and a payload */
    memset(&st, 0, sizeof(st));
    st.registration_id = S("jeffsdeskjune");
    st.status = IOTC_DPS_STATUS_FAILED;
    st.has_error_code = true;
    st.error_code = 400209;
    st.error_message = S("Custom allocation failed with status code: 401");
    st.payload_json = S("{}");
    op.status = IOTC_DPS_STATUS_FAILED;
    assert_int_equal(iotc_dps_response_body_build(&op, out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(
        out, "{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\","
             "\"status\":\"failed\",\"registrationState\":{\"registrationId\":\"jeffsdeskjune\","
             "\"status\":\"failed\",\"errorCode\":400209,\"errorMessage\":\"Custom allocation "
             "failed with status code: 401\",\"payload\":{}}}");
    st.payload_json = S("{");
    assert_int_equal(iotc_dps_response_body_build(&op, out, sizeof(out), &n), IOTC_E_ARG);
    st.payload_json = IOTC_SPAN_NULL;
    st.status = IOTC_DPS_STATUS_UNKNOWN;
    assert_int_equal(iotc_dps_response_body_build(&op, out, sizeof(out), &n), IOTC_E_ARG);
    const struct iotc_dps_operation noid = {IOTC_SPAN_NULL, IOTC_DPS_STATUS_ASSIGNING, NULL};
    assert_int_equal(iotc_dps_response_body_build(&noid, out, sizeof(out), &n), IOTC_E_ARG);
    assert_int_equal(iotc_dps_response_body_build(NULL, out, sizeof(out), &n), IOTC_E_ARG);

    assert_int_equal(iotc_dps_error_body_build(401002, S("8ad0463c-6427-4479-9dfa-3e8bb7003e9b"),
                                               S("Invalid certificate."),
                                               S("2020-04-10T05:24:22.4718526Z"), out, sizeof(out),
                                               &n),
                     IOTC_OK);
    assert_string_equal(
        out, "{\"errorCode\":401002,\"trackingId\":\"8ad0463c-6427-4479-9dfa-3e8bb7003e9b\","
             "\"message\":\"Invalid certificate.\",\"timestampUtc\":"
             "\"2020-04-10T05:24:22.4718526Z\"}");
    assert_int_equal(iotc_dps_error_body_build(400004, IOTC_SPAN_NULL, S("bad \"twin\""),
                                               IOTC_SPAN_NULL, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "{\"errorCode\":400004,\"message\":\"bad \\\"twin\\\"\"}");
}

static void test_response_body_parse(void **state)
{
    struct iotc_dps_response_view r;
    (void)state;
    assert_int_equal(
        iotc_dps_response_body_parse(
            S("{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\","
              "\"status\":\"assigning\"}"),
            &r),
        IOTC_OK);
    expect_span(r.operation_id, OPID);
    assert_int_equal(r.status, IOTC_DPS_STATUS_ASSIGNING);
    assert_false(r.has_registration_state);
    assert_false(r.has_error_code);

    assert_int_equal(
        iotc_dps_response_body_parse(
            S("{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\","
              "\"status\":\"assigned\","
              "\"registrationState\":{\"x509\":{},\"registrationId\":\"paho-sample-device1\","
              "\"createdDateTimeUtc\":"
              "\"2020-04-10T03:11:13.0276997Z\",\"assignedHub\":\"contoso.azure-devices.net\","
              "\"deviceId\":"
              "\"paho-sample-device1\",\"status\":\"assigned\",\"substatus\":\"initialAssignment\","
              "\"lastUpdatedDateTimeUtc\":\"2020-04-10T03:11:13.2096201Z\",\"etag\":"
              "\"IjYxMDA4ZDQ2LTAwMDAtMDEwMC0wMDAwLTVlOGZlM2QxMDAwMCI=\"}}"),
            &r),
        IOTC_OK);
    assert_int_equal(r.status, IOTC_DPS_STATUS_ASSIGNED);
    assert_true(r.has_registration_state);
    expect_span(r.assigned_hub, "contoso.azure-devices.net");
    expect_span(r.device_id, "paho-sample-device1");
    expect_span(r.registration_id, "paho-sample-device1");
    expect_span(r.substatus, "initialAssignment");
    assert_int_equal(r.payload.type, IOTC_JSON_NONE);

    assert_int_equal(
        iotc_dps_response_body_parse(S("{\"operationId\":\"4.dd5e\",\"status\":\"failed\","
                                       "\"registrationState\":{\"registrationId\":"
                                       "\"jeffsdeskjune\",\"createdDateTimeUtc\":\"2020-01-01T00:"
                                       "00:00Z\",\"status\":\"failed\","
                                       "\"errorCode\":400209,\"errorMessage\":\"Custom allocation "
                                       "failed with status code: 401\","
                                       "\"lastUpdatedDateTimeUtc\":\"2020-01-01T00:00:00Z\","
                                       "\"etag\":\"e\",\"payload\":null}}"),
                                     &r),
        IOTC_OK);
    assert_int_equal(r.status, IOTC_DPS_STATUS_FAILED);
    assert_true(r.has_error_code);
    assert_int_equal(r.error_code, 400209);
    expect_span(r.error_message, "Custom allocation failed with status code: 401");
    assert_int_equal(r.payload.type, IOTC_JSON_NULL);

    assert_int_equal(
        iotc_dps_response_body_parse(
            S("{\"errorCode\":401002,\"trackingId\":\"8ad0463c-6427-4479-9dfa-3e8bb7003e9b\","
              "\"message\":\"Invalid "
              "certificate.\",\"timestampUtc\":\"2020-04-10T05:24:22.4718526Z\"}"),
            &r),
        IOTC_OK);
    assert_true(r.has_error_code);
    assert_int_equal(r.error_code, 401002);
    expect_span(r.error_message, "Invalid certificate.");
    expect_span(r.tracking_id, "8ad0463c-6427-4479-9dfa-3e8bb7003e9b");
    assert_null(r.operation_id.ptr);
    assert_int_equal(r.status, IOTC_DPS_STATUS_UNKNOWN);

    /* status words are matched case-insensitively; unknown words map to UNKNOWN */
    assert_int_equal(
        iotc_dps_response_body_parse(S("{\"operationId\":\"o\",\"status\":\"Assigned\"}"), &r),
        IOTC_OK);
    assert_int_equal(r.status, IOTC_DPS_STATUS_ASSIGNED);
    assert_int_equal(
        iotc_dps_response_body_parse(S("{\"operationId\":\"o\",\"status\":\"weird\"}"), &r),
        IOTC_OK);
    assert_int_equal(r.status, IOTC_DPS_STATUS_UNKNOWN);
    expect_span(r.status_text, "weird");

    static const char *bad[] = {
        "",
        "{}",
        "[]",
        "null",
        "{\"foo\":1}",
        "{\"operationId\":1,\"status\":\"assigned\"}",
        "{\"operationId\":\"o\",\"status\":true}",
        "{\"errorCode\":\"401\"}",
        "{\"errorCode\":1.5}",
        "{\"operationId\":\"o\",\"registrationState\":[]}",
        "{\"operationId\":\"o\",\"registrationState\":{\"assignedHub\":7}}",
        "{\"operationId\":\"o\",\"registrationState\":{\"errorCode\":\"x\"}}",
        "{\"operationId\":\"o\"",
        "{\"operationId\":\"o\\q\"}",
        "{\"errorCode\":99999999999999999999}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (iotc_dps_response_body_parse(S(bad[i]), &r) != IOTC_E_MALFORMED)
            fail_msg("accepted '%s'", bad[i]);
    }
}

static void test_status_words(void **state)
{
    (void)state;
    for (int s = IOTC_DPS_STATUS_UNASSIGNED; s <= IOTC_DPS_STATUS_DISABLED; s++)
        assert_int_equal(iotc_dps_status_parse(S(iotc_dps_status_str((enum iotc_dps_status)s))), s);
    assert_string_equal(iotc_dps_status_str((enum iotc_dps_status)99), "unknown");
    assert_int_equal(iotc_dps_status_parse(S("unknown")), IOTC_DPS_STATUS_UNKNOWN);
}

/* DPS's registration id rule (docs/PROTOCOL.md §4.2): the ids the SDK samples and the tutorial
 * use pass; path tricks, a trailing '.' or ':', other punctuation and non-ASCII do not. */
static void test_registration_id_rule(void **state)
{
    (void)state;
    char max[129], over[130];
    memset(max, 'a', 128);
    max[128] = '\0';
    memset(over, 'a', 129);
    over[129] = '\0';
    static const char *const good[] = {
        "sensor-01", "dev-case",        "Dev-Case", "a",    "0",
        "a-",        "my_device.01:x9", "a..b",     "a:b-", "paho-sample-device1",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!iotc_dps_registration_id_is_valid(S(good[i])))
            fail_msg("refused '%s'", good[i]);
    assert_true(iotc_dps_registration_id_is_valid(S(max)));
    static const char *const bad[] = {
        "",     "..",     "bad..id.", "a.",  "a:",   "a_", ".",           "a:b:",
        "a/b",  "a b",    "a$b",      "a@b", "a%2e", "a*", "caf\xc3\xa9", "\xc3\xa9t\xc3\xa9",
        "a\tb", "../etc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (iotc_dps_registration_id_is_valid(S(bad[i])))
            fail_msg("accepted '%s'", bad[i]);
    assert_false(iotc_dps_registration_id_is_valid(S(over)));
    assert_false(iotc_dps_registration_id_is_valid(IOTC_SPAN_NULL));
    assert_false(iotc_dps_registration_id_is_valid((struct iotc_span){"a\0b", 3}));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_username_build),       cmocka_unit_test(test_username_parse),
        cmocka_unit_test(test_request_topics),       cmocka_unit_test(test_response_topic),
        cmocka_unit_test(test_register_body),        cmocka_unit_test(test_response_body_build),
        cmocka_unit_test(test_response_body_parse),  cmocka_unit_test(test_status_words),
        cmocka_unit_test(test_registration_id_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
