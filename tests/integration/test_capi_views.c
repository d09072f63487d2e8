/*
 * test_capi_views.c - views edited as the template editor does it: a dashboard with every tile
 * type (lineChart, lastKnownValue, property, command) saved with PATCH, renamed and reordered,
 * read back by GET (which is the template export) in the same order; a property tile that names
 * telemetry, and an unknown tile type, refused in words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "capi_device_util.h"

#define TPL "/api/deviceTemplates/" TID_URL

static const char *tile_names(const cJSON *view, char *out, size_t size)
{
    size_t o = 0;
    const cJSON *t;
    out[0] = '\0';
    cJSON_ArrayForEach(t, capi_jget(view, "tiles"))
    {
        o += (size_t)snprintf(out + o, size - o, "%s%s:%s", o ? "," : "",
                              capi_jstr(t, "displayName"), capi_jstr(t, "type"));
        if (o >= size)
            break;
    }
    return out;
}

static const cJSON *view_by_id(const cJSON *tpl, const char *id)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, capi_jget(tpl, "views"))
    {
        if (strcmp(capi_jstr(v, "id"), id) == 0)
            return v;
    }
    return NULL;
}

static void test_views_saved_renamed_reordered(void **state)
{
    (void)state;
    char names[400];
    const char *tiles =
        "{\"views\":[{\"id\":\"overview\",\"displayName\":\"Overview\",\"type\":\"dashboard\","
        "\"tiles\":["
        "{\"displayName\":\"Temperature\",\"type\":\"lineChart\",\"capabilities\":[{\"component\":"
        "\"\",\"name\":\"temp\"}]},"
        "{\"displayName\":\"Humidity now\",\"type\":\"lastKnownValue\",\"capabilities\":[{"
        "\"component\":\"\",\"name\":\"humid\"}]},"
        "{\"displayName\":\"Customer\",\"type\":\"property\",\"capabilities\":[{\"component\":\"\","
        "\"name\":\"name\"}]},"
        "{\"displayName\":\"Blink\",\"type\":\"command\",\"capabilities\":[{\"component\":\"\","
        "\"name\":\"blink\"}]}]}]}";
    assert_int_equal(admin("PATCH", TPL, tiles), 200);
    assert_int_equal(admin("GET", TPL, NULL), 200);
    const cJSON *v = view_by_id(R.json, "overview");
    assert_non_null(v);
    assert_string_equal(tile_names(v, names, sizeof names),
                        "Temperature:lineChart,Humidity now:lastKnownValue,Customer:property,"
                        "Blink:command");

    /* renamed, one tile removed, the rest reordered: the order is the one sent */
    const char *edited =
        "{\"views\":[{\"id\":\"overview\",\"displayName\":\"Fleet health\",\"type\":\"dashboard\","
        "\"tiles\":["
        "{\"displayName\":\"Customer\",\"type\":\"property\",\"capabilities\":[{\"component\":\"\","
        "\"name\":\"name\"}]},"
        "{\"displayName\":\"Temperature\",\"type\":\"lineChart\",\"capabilities\":[{\"component\":"
        "\"\",\"name\":\"temp\"}]}]}]}";
    assert_int_equal(admin("PATCH", TPL, edited), 200);
    assert_int_equal(admin("GET", TPL, NULL), 200);
    v = view_by_id(R.json, "overview");
    assert_non_null(v);
    assert_string_equal(capi_jstr(v, "displayName"), "Fleet health");
    assert_string_equal(tile_names(v, names, sizeof names),
                        "Customer:property,Temperature:lineChart");
}

static void test_views_refused(void **state)
{
    (void)state;
    assert_int_equal(
        admin("PATCH", TPL,
              "{\"views\":[{\"id\":\"d\",\"displayName\":\"D\",\"type\":\"dashboard\",\"tiles\":[{"
              "\"displayName\":\"T\",\"type\":\"property\",\"capabilities\":[{\"component\":\"\","
              "\"name\":\"temp\"}]}]}]}"),
        400);
    assert_string_equal(R.error_code, "InvalidTemplate");
    assert_non_null(strstr(capi_jstr(R.json, "error.message"),
                           "$.views[0].tiles[0].capabilities[0]: no property \"temp\""));
    assert_int_equal(
        admin("PATCH", TPL,
              "{\"views\":[{\"id\":\"d\",\"displayName\":\"D\",\"type\":\"dashboard\",\"tiles\":[{"
              "\"displayName\":\"T\",\"type\":\"gauge\",\"capabilities\":[]}]}]}"),
        400);
    assert_string_equal(R.error_code, "InvalidTemplate");
    assert_non_null(strstr(capi_jstr(R.json, "error.message"),
                           "must be lineChart, lastKnownValue, property or command"));
    /* nothing of a refused PATCH is kept */
    assert_int_equal(admin("GET", TPL, NULL), 200);
    assert_null(view_by_id(R.json, "d"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_saved_renamed_reordered),
        cmocka_unit_test(test_views_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
