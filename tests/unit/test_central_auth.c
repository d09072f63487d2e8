/*
 * test_central_auth.c - the CONNECT-to-authentication decision (src/central/hub/auth.c) with the
 * published vectors of docs/PROTOCOL.md §2.3/§2.4 and every refusal reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "central/hub/auth.h"
#include "iotc/codec.h"

#define SE 1578941692u
#define BEFORE (SE - 100)

static const char HUB_KEY[] = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=";
static const char GROUP_KEY[] =
    "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==";
static const char REG[] = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6";
static const struct auth_group test_groups[] = {{GROUP_KEY, ""}};

static const struct auth_config cfg = {
    .id_scope = "0ne00000A0A",
    .hub_host = "myiothub.azure-devices.net",
    .groups = test_groups,
    .n_groups = 1,
    .service_policy = "iothubowner",
    .service_key = HUB_KEY,
};

/* Registry: my_device (enabled, own key), off_device (disabled), nothing else. */
static bool lookup(void *ctx, struct iotc_span id, bool any_case, struct auth_identity *out)
{
    (void)ctx;
    bool (*eq)(struct iotc_span, struct iotc_span) = any_case ? iotc_span_eq_nocase : iotc_span_eq;
    if (eq(id, IOTC_SPAN_LIT("my_device")) || eq(id, IOTC_SPAN_LIT("off_device"))) {
        out->primary_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        out->secondary_key = HUB_KEY;
        out->enabled = id.ptr[0] == 'm' || id.ptr[0] == 'M';
        out->from_group = false;
        return true;
    }
    return false;
}

struct auth_case {
    const char *name;
    const char *client_id;
    const char *username;
    const char *password;
    uint64_t now;
    enum auth_kind kind;
    int connack;
    enum auth_key key;
    const char *reason; /* substring, NULL = "ok" */
};

#define HUB_TOKEN                                                                    \
    "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig=" \
    "dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg%2FYB1AvU%3D&se=1578941692"
#define SVC_TOKEN                                                                                 \
    "SharedAccessSignature sr=myiothub.azure-devices.net&sig=jNLd5fT1OOOh8Q3GOXfi%2BCbnqvMsE7%2B" \
    "lpEsBASuS%2FKI%3D&skn=iothubowner&se=1578941692"
#define DPS_USER \
    "0ne00000A0A/registrations/sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6/api-version=2019-03-31"
#define PY_TOKEN                                                                                  \
    "SharedAccessSignature sr=0ne00000A0A%2Fregistrations%2Fsn-007-888-abc-mac-a1-b2-c3-d4-e5-f6" \
    "&sig=3kS5mMhVhFjPLLrKeHzaM0Oxrh9BwgzRNNLqnBbTAys%3D&se=1578941692"
#define CSDK_TOKEN                                                                                \
    "SharedAccessSignature sr=0ne00000A0A%2fregistrations%2fsn-007-888-abc-mac-a1-b2-c3-d4-e5-f6" \
    "&sig=iPGpRjA07B14iPuO0DxL1Cju0UJ29xXGguXB10zMl%2BQ%3D&se=1578941692"
#define NODE_TOKEN                                                                            \
    "SharedAccessSignature sr=0ne00000A0A/registrations/sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6" \
    "&sig=Pyo6mBisDhojwFd6jvHFcL8kwj4yreJvmDfQmKy%2BMBE%3D&skn=registration&se=1578941692"

static const struct auth_case cases[] = {
    /* hub: usernames of every SDK, the secondary key, the service policy */
    {"hub C-SDK", "my_device",
     "myiothub.azure-devices.net/my_device/?api-version=2020-09-30&DeviceClientType=azsdk-c%2F1"
     "&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1",
     HUB_TOKEN, BEFORE, AUTH_HUB, 0, AUTH_KEY_DEVICE_SECONDARY, NULL},
    {"hub NODE raw model-id", "my_device",
     "myiothub.azure-devices.net/my_device/?api-version=2021-04-12&model-id=dtmi:com:example:"
     "Thermostat;1&DeviceClientType=azure-iot-device%2F1.18.4",
     HUB_TOKEN, BEFORE, AUTH_HUB, 0, AUTH_KEY_DEVICE_SECONDARY, NULL},
    {"hub no query", "my_device", "myiothub.azure-devices.net/my_device", HUB_TOKEN, BEFORE,
     AUTH_HUB, 0, AUTH_KEY_DEVICE_SECONDARY, NULL},
    {"hub host:port", "my_device", "myiothub.azure-devices.net:8884/my_device/?api-version=x",
     HUB_TOKEN, BEFORE, AUTH_HUB, 0, AUTH_KEY_DEVICE_SECONDARY, NULL},
    {"hub host:port, sr with port", "my_device",
     "myiothub.azure-devices.net:8884/my_device/?api-version=x",
     "SharedAccessSignature sr=myiothub.azure-devices.net%3A8884%2Fdevices%2Fmy_device&sig=x&se=1",
     BEFORE, AUTH_HUB, 5, AUTH_KEY_NONE, "does not verify"},
    {"hub service policy", "my_device", "myiothub.azure-devices.net/my_device/?api-version=x",
     SVC_TOKEN, BEFORE, AUTH_HUB, 0, AUTH_KEY_SERVICE, NULL},
    {"hub expired", "my_device", "myiothub.azure-devices.net/my_device/?api-version=x", HUB_TOKEN,
     SE, AUTH_HUB, 5, AUTH_KEY_DEVICE_SECONDARY, "expired"},
    {"hub client id", "other", "myiothub.azure-devices.net/my_device/?api-version=x", HUB_TOKEN,
     BEFORE, AUTH_HUB, 2, AUTH_KEY_NONE, "client id"},
    {"hub unknown", "ghost", "myiothub.azure-devices.net/ghost/?api-version=x", HUB_TOKEN, BEFORE,
     AUTH_HUB, 5, AUTH_KEY_NONE, "not registered"},
    {"hub disabled", "off_device", "myiothub.azure-devices.net/off_device/?api-version=x",
     HUB_TOKEN, BEFORE, AUTH_HUB, 5, AUTH_KEY_NONE, "disabled"},
    {"hub other host", "my_device", "elsewhere.example/my_device/?api-version=x", HUB_TOKEN, BEFORE,
     AUTH_HUB, 5, AUTH_KEY_NONE, "another hub"},
    {"hub module", "my_device/m", "myiothub.azure-devices.net/my_device/m/?api-version=x",
     HUB_TOKEN, BEFORE, AUTH_HUB, 5, AUTH_KEY_NONE, "module"},
    {"hub bad token", "my_device", "myiothub.azure-devices.net/my_device/?api-version=x",
     "SharedAccessSignature sr=a", BEFORE, AUTH_HUB, 5, AUTH_KEY_NONE, "malformed SAS"},
    {"hub token for other device", "my_device",
     "myiothub.azure-devices.net/my_device/?api-version=x",
     "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_devicex&sig="
     "dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg%2FYB1AvU%3D&se=1578941692",
     BEFORE, AUTH_HUB, 5, AUTH_KEY_NONE, "resource"},
    {"hub tampered sig", "my_device", "myiothub.azure-devices.net/my_device/?api-version=x",
     "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig="
     "eIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg%2FYB1AvU%3D&se=1578941692",
     BEFORE, AUTH_HUB, 5, AUTH_KEY_NONE, "does not verify"},
    /* DPS: the three §2.4 spellings with the group-derived key */
    {"dps PY", REG, DPS_USER "&ClientVersion=azure-iot-device-provisioning-py%2F2.14.0", PY_TOKEN,
     BEFORE, AUTH_DPS, 0, AUTH_KEY_GROUP_PRIMARY, NULL},
    {"dps C-SDK", REG, DPS_USER, CSDK_TOKEN, BEFORE, AUTH_DPS, 0, AUTH_KEY_GROUP_PRIMARY, NULL},
    {"dps NODE", REG, DPS_USER "&ClientVersion=azure-iot-provisioning-device%2F1.9.2", NODE_TOKEN,
     BEFORE, AUTH_DPS, 0, AUTH_KEY_GROUP_PRIMARY, NULL},
    {"dps scope case-insensitive", REG,
     "0NE00000a0a/registrations/sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6/api-version=2019-03-31",
     CSDK_TOKEN, BEFORE, AUTH_DPS, 0, AUTH_KEY_GROUP_PRIMARY, NULL},
    {"dps expired", REG, DPS_USER, PY_TOKEN, SE + 1, AUTH_DPS, 5, AUTH_KEY_GROUP_PRIMARY,
     "expired"},
    {"dps other scope", REG,
     "0ne00000A0B/registrations/sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6/api-version=2019-03-31",
     PY_TOKEN, BEFORE, AUTH_DPS, 5, AUTH_KEY_NONE, "scope"},
    {"dps token for other registration", REG,
     "0ne00000A0A/registrations/sn-007-888-abc-mac-a1-b2-c3-d4-e5-f7/api-version=2019-03-31",
     PY_TOKEN, BEFORE, AUTH_DPS, 5, AUTH_KEY_NONE, "registration"},
    {"no username", "x", NULL, PY_TOKEN, BEFORE, AUTH_NONE, 5, AUTH_KEY_NONE, "no username"},
    {"no password", REG, DPS_USER, NULL, BEFORE, AUTH_DPS, 5, AUTH_KEY_NONE, "no password"},
};

static void test_decisions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct auth_case *c = &cases[i];
        struct auth_result r;
        assert_int_equal(auth_decide(&cfg, iotc_span_from_cstr(c->client_id),
                                     iotc_span_from_cstr(c->username),
                                     iotc_span_from_cstr(c->password), c->password != NULL, c->now,
                                     lookup, NULL, &r),
                         0);
        if (r.kind != c->kind || r.connack != c->connack || r.key != c->key ||
            strstr(r.reason, c->reason ? c->reason : "ok") == NULL)
            fail_msg("%s: kind %d connack %d key %d reason '%s'", c->name, r.kind, r.connack, r.key,
                     r.reason);
        if (r.connack == 0)
            assert_int_equal(r.expiry, SE);
    }
}

/* The hub decision hands back the identity and the (still encoded) model id. */
static void test_outputs(void **state)
{
    (void)state;
    struct auth_result r;
    auth_decide(&cfg, IOTC_SPAN_LIT("my_device"),
                IOTC_SPAN_LIT("myiothub.azure-devices.net/my_device/?api-version=1&model-id="
                              "dtmi%3Acom%3Aexample%3AThermostat%3B1"),
                IOTC_SPAN_LIT(HUB_TOKEN), true, BEFORE, lookup, NULL, &r);
    assert_int_equal(r.connack, 0);
    assert_true(iotc_span_eq(r.id, IOTC_SPAN_LIT("my_device")));
    assert_true(iotc_span_eq(r.model_id, IOTC_SPAN_LIT("dtmi%3Acom%3Aexample%3AThermostat%3B1")));
    assert_true(r.known);
    assert_true(r.enabled);
    /* DPS for an unknown id: accepted through the group, flagged as not yet known. */
    auth_decide(&cfg, IOTC_SPAN_LIT("x"), IOTC_SPAN_LIT(DPS_USER), IOTC_SPAN_LIT(PY_TOKEN), true,
                BEFORE, lookup, NULL, &r);
    assert_int_equal(r.connack, 0);
    assert_false(r.known);
    assert_true(iotc_span_eq(r.id, iotc_span_from_cstr(REG)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_outputs),
    };
    return cmocka_run_group_tests_name("central_auth", tests, NULL, NULL);
}
