/*
 * iotc/iotc.h - umbrella header of libiotc.
 *
 * iotc/proto.h is the pure protocol core (no I/O, no clock, no allocation in parsers);
 * iotc/client.h is the device client built on it and libmosquitto.
 */
#ifndef IOTC_IOTC_H
#define IOTC_IOTC_H

#include <iotc/client.h>
#include <iotc/proto.h>

#endif /* IOTC_IOTC_H */
