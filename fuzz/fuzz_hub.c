/*
 * fuzz_hub.c - hub username, topic parser/classifier, subscription filters and bag decoding.
 */
#include <stddef.h>
#include <stdint.h>

#include <iotc/codec.h>
#include <iotc/hub.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iotc_span in = {(const char *)data, size};
    struct iotc_hub_username u;
    struct iotc_hub_topic t;
    enum iotc_hub_topic_kind kind;
    enum iotc_hub_sub_kind sub;
    char k[128], v[128];
    size_t kl, vl;

    if (iotc_hub_username_parse(in, &u) == IOTC_OK && u.model_id.ptr != NULL)
        (void)iotc_pct_decode(u.model_id, v, sizeof(v), &vl);
    (void)iotc_hub_topic_classify(in, IOTC_SPAN_LIT("dev1"), IOTC_SPAN_NULL, &kind);
    (void)iotc_hub_subscription_classify(in, IOTC_SPAN_LIT("dev1"), IOTC_SPAN_LIT("m"), &sub);
    if (iotc_hub_topic_parse(in, &t) == IOTC_OK) {
        struct iotc_bag_iter it;
        struct iotc_bag_pair p;
        iotc_bag_iter_init(&it, t.bag);
        /* the parser validated the bag, so iteration must not fail */
        int rc;
        while ((rc = iotc_bag_next(&it, &p)) == IOTC_OK)
            (void)iotc_bag_pair_decode(&p, k, sizeof(k), &kl, v, sizeof(v), &vl);
        if (rc != IOTC_E_NOTFOUND)
            __builtin_trap();
    }
    return 0;
}
