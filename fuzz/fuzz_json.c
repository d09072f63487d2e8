/*
 * fuzz_json.c - JSON reader: parse, walk every container, unescape strings, read integers, and
 * re-emit through the writer.
 */
#include <stddef.h>
#include <stdint.h>

#include <iotc/json.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(struct iotc_json_value v, int depth)
{
    struct iotc_json_iter it;
    struct iotc_json_value key, val;
    char buf[64];
    size_t n;
    int64_t i;
    if (v.type == IOTC_JSON_STRING &&
        iotc_json_string_get(v, buf, sizeof(buf), &n) == IOTC_E_MALFORMED)
        __builtin_trap(); /* validated strings always unescape */
    if (v.type == IOTC_JSON_NUMBER)
        (void)iotc_json_get_int(v, -1000, 1000, &i);
    if (depth > IOTC_JSON_MAX_DEPTH || iotc_json_iter_init(&it, v) != IOTC_OK)
        return;
    while (iotc_json_iter_next(&it, &key, &val) == IOTC_OK) {
        walk(val, depth + 1);
        if (v.type == IOTC_JSON_OBJECT)
            (void)iotc_json_object_find(v, (struct iotc_span){buf, 0}, &val);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iotc_span in = {(const char *)data, size};
    struct iotc_json_value root;
    struct iotc_json_writer w;
    char out[1024];
    size_t n;
    if (iotc_json_parse(in, &root) != IOTC_OK)
        return 0;
    walk(root, 0);
    iotc_json_writer_init(&w, out, sizeof(out));
    iotc_json_write_raw(&w, in);
    int rc = iotc_json_writer_finish(&w, &n);
    if (rc != IOTC_OK && rc != IOTC_E_NOSPACE)
        __builtin_trap(); /* valid JSON is always accepted as raw */
    return 0;
}
