/*
 * fuzz_sas.c - SAS token parse + verify, resource checks, percent and base64 decoders.
 */
#include <stddef.h>
#include <stdint.h>

#include <iotc/codec.h>
#include <iotc/sas.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iotc_span in = {(const char *)data, size};
    struct iotc_sas_token tok;
    char buf[256];
    size_t n;

    if (iotc_sas_parse(in, &tok) == IOTC_OK) {
        int rc = iotc_sas_verify(
            &tok, IOTC_SPAN_LIT("NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg="), 1578941000);
        if (rc != IOTC_OK && rc != IOTC_E_AUTH && rc != IOTC_E_EXPIRED)
            __builtin_trap();
        (void)iotc_sas_check_hub_resource(tok.sr, IOTC_SPAN_LIT("myiothub.azure-devices.net"),
                                          IOTC_SPAN_LIT("my_device"), IOTC_SPAN_NULL);
        (void)iotc_sas_check_dps_resource(tok.sr, IOTC_SPAN_LIT("0ne00000A0A"),
                                          IOTC_SPAN_LIT("dev1"));
        (void)iotc_sas_resource_covers(tok.sr, tok.sig);
    }
    /* the decoders must agree with their own length functions */
    if (iotc_pct_decode(in, buf, sizeof(buf), &n) == IOTC_OK &&
        !iotc_pct_equal(in, (struct iotc_span){buf, n}))
        __builtin_trap();
    (void)iotc_base64_decode(in, buf, sizeof(buf), &n);
    (void)iotc_sas_sign(in, IOTC_SPAN_LIT("sr"), IOTC_SPAN_LIT("1"), buf, sizeof(buf), &n);
    return 0;
}
