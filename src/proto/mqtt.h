/*
 * proto/mqtt.h - MQTT 3.1.1 packet codec and topic helpers (pure core, private header).
 *
 * Not part of the public device API: libiotc's device client uses libmosquitto. This codec
 * serves the iotc-central broker (include as "proto/mqtt.h") and the C tests' raw client.
 *
 * Decoding is incremental in the picohttpparser style: hand iotc_mqtt_decode() everything
 * received so far; it either decodes exactly one packet and reports how many bytes it used,
 * or says IOTC_E_AGAIN (a strict prefix of a packet: read more and call again with the same
 * bytes plus the new ones). Decoded strings and payloads are borrowed views into the input:
 * valid until the caller moves, frees or overwrites those bytes. Nothing is copied, allocated
 * or NUL-terminated. Every call is reentrant; there is no hidden state.
 *
 * Encoders compute the size first and return IOTC_E_NOSPACE before writing anything.
 * They check what framing needs (lengths fit, QoS 0..2, non-zero packet ids, at least one
 * filter) but NOT string content (UTF-8, wildcards), so tests can send such packets on
 * purpose; validate topics with iotc_mqtt_topic_validate() before encoding when it matters.
 */
#ifndef IOTC_PROTO_MQTT_H
#define IOTC_PROTO_MQTT_H

#include "iotc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest Remaining Length a 4-byte varint can carry (MQTT 3.1.1 §2.2.3). */
#define IOTC_MQTT_MAX_REMAINING 268435455u
/** Largest possible packet: 1 type byte + 4 length bytes + IOTC_MQTT_MAX_REMAINING. */
#define IOTC_MQTT_MAX_PACKET (5u + IOTC_MQTT_MAX_REMAINING)
/** Largest UTF-8 string / binary field (2-byte length prefix). */
#define IOTC_MQTT_MAX_STRING 65535u
/** Upper bound of iotc_mqtt_encode_publish_header() output for a topic of @p topic_len bytes. */
#define IOTC_MQTT_PUBLISH_HEADER_MAX(topic_len) (5u + 2u + (size_t)(topic_len) + 2u)

/** Control packet types; values are the wire values (high nibble of byte 0). */
enum iotc_mqtt_type {
    IOTC_MQTT_CONNECT = 1,
    IOTC_MQTT_CONNACK = 2,
    IOTC_MQTT_PUBLISH = 3,
    IOTC_MQTT_PUBACK = 4,
    IOTC_MQTT_PUBREC = 5,
    IOTC_MQTT_PUBREL = 6,
    IOTC_MQTT_PUBCOMP = 7,
    IOTC_MQTT_SUBSCRIBE = 8,
    IOTC_MQTT_SUBACK = 9,
    IOTC_MQTT_UNSUBSCRIBE = 10,
    IOTC_MQTT_UNSUBACK = 11,
    IOTC_MQTT_PINGREQ = 12,
    IOTC_MQTT_PINGRESP = 13,
    IOTC_MQTT_DISCONNECT = 14,
};

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3); 6..255 are reserved and rejected. */
enum iotc_mqtt_connack_rc {
    IOTC_MQTT_CONNACK_ACCEPTED = 0,
    IOTC_MQTT_CONNACK_BAD_PROTOCOL = 1,    /**< unacceptable protocol version */
    IOTC_MQTT_CONNACK_ID_REJECTED = 2,     /**< identifier rejected */
    IOTC_MQTT_CONNACK_UNAVAILABLE = 3,     /**< server unavailable */
    IOTC_MQTT_CONNACK_BAD_CREDENTIALS = 4, /**< bad user name or password */
    IOTC_MQTT_CONNACK_NOT_AUTHORIZED = 5,  /**< not authorized */
};

/** SUBACK failure return code; success codes are the granted QoS 0, 1 or 2. */
#define IOTC_MQTT_SUBACK_FAILURE 0x80u

/**
 * CONNECT. Decoding: when the protocol is not ("MQTT", level 4), e.g. MQTT 3.1 ("MQIsdp",
 * level 3) or MQTT 5 ("MQTT", level 5), the decoder returns IOTC_OK with protocol_ok = false
 * and only protocol_name / protocol_level filled (the rest of the packet is skipped, not
 * parsed): a server answers CONNACK IOTC_MQTT_CONNACK_BAD_PROTOCOL and closes (§3.1.2.2).
 * Any other protocol name is IOTC_E_MALFORMED. Check protocol_ok before any other field.
 * Encoding: protocol_name NULL means "MQTT" and then protocol_level 0 means 4 (a decoded
 * packet re-encodes as is); the 3.1.1 layout is written whatever the level; protocol_ok is
 * ignored. has_* flags select optional fields.
 */
struct iotc_mqtt_connect {
    struct iotc_span protocol_name; /**< borrowed; "MQTT" or "MQIsdp" after decode */
    uint8_t protocol_level;         /**< 4 for MQTT 3.1.1 */
    bool protocol_ok;               /**< decode: true iff "MQTT" level 4 and fully parsed */
    bool clean_session;
    uint16_t keep_alive;        /**< seconds; 0 disables (§3.1.2.10) */
    struct iotc_span client_id; /**< UTF-8, may be empty (server decides, §3.1.3.1) */
    bool has_will;
    uint8_t will_qos;              /**< 0..2; 0 when !has_will */
    bool will_retain;              /**< false when !has_will */
    struct iotc_span will_topic;   /**< valid topic name when has_will */
    struct iotc_span will_payload; /**< binary */
    bool has_username;
    bool has_password;         /**< 3.1.1 §3.1.2.9: requires has_username */
    struct iotc_span username; /**< UTF-8 */
    struct iotc_span password; /**< binary */
};

/** CONNACK: decoding rejects reserved flag bits, rc > 5, and session_present with rc != 0. */
struct iotc_mqtt_connack {
    bool session_present;
    uint8_t return_code; /**< enum iotc_mqtt_connack_rc */
};

/**
 * PUBLISH. Decoding guarantees: qos 0..2, dup only with qos > 0, packet_id != 0 iff
 * qos > 0 (0 for qos 0), topic a valid topic name (non-empty UTF-8, no wildcards, no NUL).
 */
struct iotc_mqtt_publish {
    bool dup;
    uint8_t qos;
    bool retain;
    uint16_t packet_id;
    struct iotc_span topic;   /**< borrowed */
    struct iotc_span payload; /**< borrowed, may be empty; only its len is used by
                                   iotc_mqtt_encode_publish_header() */
};

/** One SUBSCRIBE entry. */
struct iotc_mqtt_subscription {
    struct iotc_span filter; /**< topic filter, borrowed */
    uint8_t qos;             /**< requested QoS 0..2 */
};

/**
 * SUBSCRIBE. Decoding fills packet_id, count (>= 1), raw (the encoded entries, borrowed)
 * and sets list to NULL; walk the entries with iotc_mqtt_subscribe_next(). Every filter is
 * already validated. Encoding uses list[0..count) when list is non-NULL, otherwise copies
 * raw verbatim (so a decoded packet re-encodes as is).
 */
struct iotc_mqtt_subscribe {
    uint16_t packet_id;
    size_t count;
    const struct iotc_mqtt_subscription *list; /**< borrowed; encode input */
    struct iotc_span raw;                      /**< borrowed; decode output */
};

/** SUBACK: one return code per filter, each 0, 1, 2 or IOTC_MQTT_SUBACK_FAILURE. */
struct iotc_mqtt_suback {
    uint16_t packet_id;
    size_t count;         /**< >= 1 */
    const uint8_t *codes; /**< borrowed; after decode points into the input */
};

/** UNSUBSCRIBE: same list/raw convention as struct iotc_mqtt_subscribe. */
struct iotc_mqtt_unsubscribe {
    uint16_t packet_id;
    size_t count;
    const struct iotc_span *list; /**< borrowed; encode input */
    struct iotc_span raw;         /**< borrowed; decode output, walk with _next() */
};

/**
 * One decoded (or to-be-encoded) control packet. The member named after the type is
 * the valid one; PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK use packet_id; PINGREQ,
 * PINGRESP and DISCONNECT have no fields.
 */
struct iotc_mqtt_packet {
    enum iotc_mqtt_type type;
    union {
        struct iotc_mqtt_connect connect;
        struct iotc_mqtt_connack connack;
        struct iotc_mqtt_publish publish;
        struct iotc_mqtt_subscribe subscribe;
        struct iotc_mqtt_suback suback;
        struct iotc_mqtt_unsubscribe unsubscribe;
        uint16_t packet_id; /**< never 0 */
    };
};

/* ---------------------------------------------------------------- decoding */

/**
 * Parse only the fixed header at the start of @p in: type, flags and Remaining Length.
 * Lets an I/O layer learn the full packet size early (to reserve or to refuse).
 * @param in        bytes received so far (borrowed, only read)
 * @param max_size  largest acceptable whole packet, fixed header included
 *                  (IOTC_MQTT_MAX_PACKET for the protocol limit)
 * @param out_type  may be NULL; the packet type on IOTC_OK
 * @param out_total may be NULL; on IOTC_OK the whole packet's size (header + remaining),
 *                  which may exceed in.len
 * @return IOTC_OK; IOTC_E_AGAIN if the header itself is incomplete; IOTC_E_MALFORMED for
 *         type 0/15, wrong fixed-header flags, a 5-byte length, or a length the type forbids
 *         (e.g. PINGREQ with a body); IOTC_E_TOOBIG if the total exceeds @p max_size.
 */
int iotc_mqtt_frame(struct iotc_span in, size_t max_size, enum iotc_mqtt_type *out_type,
                    size_t *out_total);

/**
 * Decode one packet from the start of @p in.
 * @param in           bytes received so far (borrowed; views in @p out_pkt point into it)
 * @param max_size     largest acceptable whole packet, fixed header included
 * @param out_pkt      filled on IOTC_OK; unspecified otherwise
 * @param out_consumed on IOTC_OK the packet's size (drop that many bytes afterwards);
 *                     0 otherwise
 * @return IOTC_OK; IOTC_E_AGAIN if @p in is a strict prefix of a packet that may still be
 *         valid: the fixed header (type, flags, length bounds) is checked as soon as it
 *         is visible, the body only once all of it has arrived;
 *         IOTC_E_MALFORMED on any MQTT 3.1.1 violation (the connection should be closed);
 *         IOTC_E_TOOBIG if the announced size exceeds @p max_size (reported as soon as the
 *         length is known, before the body arrives).
 */
int iotc_mqtt_decode(struct iotc_span in, size_t max_size, struct iotc_mqtt_packet *out_pkt,
                     size_t *out_consumed);

/**
 * Iterate the entries of a decoded SUBSCRIBE.
 * @param it  cursor: start with a copy of pkt.subscribe.raw; advanced on each call
 * @param out the next entry (views borrowed from the packet's input)
 * @return true with @p out filled, false at the end (or if @p it is not well-formed).
 */
bool iotc_mqtt_subscribe_next(struct iotc_span *it, struct iotc_mqtt_subscription *out);

/** Same as iotc_mqtt_subscribe_next() for UNSUBSCRIBE (cursor starts at unsubscribe.raw). */
bool iotc_mqtt_unsubscribe_next(struct iotc_span *it, struct iotc_span *out_filter);

/* ---------------------------------------------------------------- encoding */

/**
 * Size iotc_mqtt_encode() would write for @p pkt.
 * @return IOTC_OK with *out_size set; IOTC_E_ARG if @p pkt cannot be encoded (unknown type,
 *         QoS > 2, zero packet id where one is required, no filters, a string over 65535
 *         bytes, Remaining Length over IOTC_MQTT_MAX_REMAINING, password without username,
 *         will QoS/retain without has_will, CONNACK code > 5 or session_present with a
 *         non-zero code, dup with QoS 0, SUBACK codes NULL or not 0/1/2/0x80).
 */
int iotc_mqtt_encoded_size(const struct iotc_mqtt_packet *pkt, size_t *out_size);

/**
 * Encode @p pkt (any of the 14 types) into @p out.
 * @param out     caller buffer of @p out_cap bytes; untouched unless IOTC_OK
 * @param out_len set to the bytes written on IOTC_OK, to the bytes needed on
 *                IOTC_E_NOSPACE, to 0 on IOTC_E_ARG
 * @return IOTC_OK, IOTC_E_NOSPACE, or IOTC_E_ARG as for iotc_mqtt_encoded_size().
 */
int iotc_mqtt_encode(const struct iotc_mqtt_packet *pkt, void *out, size_t out_cap,
                     size_t *out_len);

/**
 * Encode the start of a PUBLISH: fixed header (its Remaining Length counts
 * pub->payload.len), topic and packet id, but not the payload, so a large payload can be
 * sent from where it already is (scatter/gather). pub->payload.ptr is not read.
 * At most IOTC_MQTT_PUBLISH_HEADER_MAX(pub->topic.len) bytes are written.
 * @return IOTC_OK / IOTC_E_NOSPACE / IOTC_E_ARG, *out_len as for iotc_mqtt_encode().
 */
int iotc_mqtt_encode_publish_header(const struct iotc_mqtt_publish *pub, void *out, size_t out_cap,
                                    size_t *out_len);

/* ---------------------------------------------------------------- topics */

/**
 * Check an MQTT UTF-8 string (§1.5.3): well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF), no U+0000, at most 65535 bytes.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
int iotc_mqtt_utf8_validate(struct iotc_span s);

/**
 * Check a topic name (PUBLISH, will topic): a non-empty MQTT UTF-8 string without '+' or '#'.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
int iotc_mqtt_topic_validate(struct iotc_span topic);

/**
 * Check a topic filter (§4.7.1): a non-empty MQTT UTF-8 string where '+' fills a whole
 * level and '#' fills the whole last level.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
int iotc_mqtt_filter_validate(struct iotc_span filter);

/**
 * Does @p topic match @p filter (§4.7)? '+' matches one level (possibly empty), '#' the
 * parent level and any number of levels below; a filter starting with a wildcard never
 * matches a topic starting with '$' (§4.7.2). Both arguments are assumed valid (an invalid
 * filter matches as its characters literally suggest, without reading out of bounds).
 */
bool iotc_mqtt_topic_matches(struct iotc_span filter, struct iotc_span topic);

/** Upper-case type name for logs ("PUBLISH"); "UNKNOWN" for other values. Static storage. */
const char *iotc_mqtt_type_name(int type);

#ifdef __cplusplus
}
#endif

#endif /* IOTC_PROTO_MQTT_H */
