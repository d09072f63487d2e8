/*
 * fuzz_export.c - data export's pure part: the filter parser and matcher, the definition checks
 * and the message writer on arbitrary input. The first byte picks what the rest is fed to.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "central/export/export_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char err[256];
    switch (data[0] % 3) {
    case 0: {
        struct export_filter f;
        if (export_filter_parse(text, &f, err, sizeof err) == 0) {
            cJSON *fields = cJSON_Parse("{\"temp\":21,\"mode\":\"eco\",\"on\":true}");
            (void)export_filter_match(&f, f.template_id, "dev", fields);
            cJSON_Delete(fields);
        } else if (err[0] == '\0') {
            __builtin_trap(); /* every refusal says why */
        }
        break;
    }
    case 1: {
        cJSON *o = cJSON_Parse(text);
        if (o != NULL) {
            (void)export_check_destination(o, err, sizeof err);
            (void)export_check_export(o, err, sizeof err);
            cJSON *props = export_patch_properties(o);
            cJSON_Delete(props);
            cJSON_Delete(o);
        }
        break;
    }
    default: {
        struct export_msg_in in = {
            .source = EXPORT_SRC_PROPERTIES,
            .app_id = "a",
            .device_id = "d",
            .type = "devicePropertyReportedChange",
            .payload = text,
            .payload_len = strlen(text),
            .props_json = text,
        };
        for (int s = 0; s < EXPORT_SRC_COUNT; s++) {
            in.source = (enum export_source)s;
            cJSON *m = export_message(&in);
            char *out = m != NULL ? cJSON_PrintUnformatted(m) : NULL;
            free(out);
            cJSON_Delete(m);
        }
        /* the text the pipes send is the same message as export_message's (differential: the
         * telemetry text is written directly, without cJSON); the input also as the strings */
        in.source = EXPORT_SRC_TELEMETRY;
        for (int v = 0; v < 2; v++) {
            in.device_id = v == 0 ? "d" : text;
            in.component = v == 0 ? NULL : text;
            char *t = export_message_text(&in);
            cJSON *got = t != NULL ? cJSON_Parse(t) : NULL;
            cJSON *want = export_message(&in);
            /* compared as cJSON prints them: numbers that do not survive a double (1e400) print
             * the same on both sides, where cJSON_Compare would call inf != inf */
            char *g = got != NULL ? cJSON_PrintUnformatted(got) : NULL;
            char *w = want != NULL ? cJSON_PrintUnformatted(want) : NULL;
            if (t != NULL && w != NULL && (g == NULL || strcmp(g, w) != 0))
                abort();
            free(g);
            free(w);
            cJSON_Delete(got);
            cJSON_Delete(want);
            free(t);
        }
        break;
    }
    }
    free(text);
    return 0;
}
