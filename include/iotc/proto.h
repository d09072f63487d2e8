/*
 * iotc/proto.h - umbrella header of the pure protocol core: percent/base64 codecs and property
 * bags, SAS tokens, DPS and IoT Hub MQTT formats, IoT Central conventions and the JSON helpers.
 * Everything behind it is free of I/O, clocks and allocation (OpenSSL's HMAC aside).
 */
#ifndef IOTC_PROTO_H
#define IOTC_PROTO_H

#include <iotc/central.h>
#include <iotc/codec.h>
#include <iotc/common.h>
#include <iotc/dps.h>
#include <iotc/hub.h>
#include <iotc/json.h>
#include <iotc/sas.h>

#endif /* IOTC_PROTO_H */
