/*
 * fuzz_export_xf.c - what data export parses beside the filter: the transform's `iotc` module
 * rewrite (export_transform_source) and webhook oauth's token answer, which comes from the
 * network, with the oauth definition check and token request. The first byte picks which.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "central/export/export_oauth.h"
#include "central/export/export_transform.h"

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
    size_t len = strlen(text);
    char err[256];
    if (data[0] % 2 == 0) {
        char *src = export_transform_source(text, err, sizeof err);
        if (src == NULL && len <= EXPORT_TRANSFORM_MAX_TEXT)
            __builtin_trap(); /* only a too long program (or no memory) is refused */
        /* the directive becomes the definition at most once; renames keep the length */
        if (src != NULL && strlen(src) > len + 40)
            __builtin_trap();
        free(src);
    } else {
        char header[512];
        int64_t exp = 0;
        err[0] = '\0';
        if (export_oauth_parse_token(text, len, header, sizeof header, &exp, err, sizeof err) ==
            0) {
            if (exp <= 0 || strpbrk(header, "\r\n") != NULL)
                __builtin_trap(); /* nothing that could split a header line */
            (void)export_oauth_use_ms(exp);
        } else if (err[0] == '\0') {
            __builtin_trap();
        }
        cJSON *o = cJSON_Parse(text);
        if (cJSON_IsObject(o) && export_oauth_check(o, err, sizeof err) == 0) {
            const char *ct = NULL;
            free(export_oauth_request_body(o, &ct));
        }
        cJSON_Delete(o);
    }
    free(text);
    return 0;
}
