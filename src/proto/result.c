/*
 * result.c - iotc_strerror(): text for enum iotc_result (declared in iotc/common.h).
 */
#include <iotc/common.h>

const char *iotc_strerror(int result)
{
    switch (result) {
    case IOTC_OK:
        return "success";
    case IOTC_E_AGAIN:
        return "need more bytes";
    case IOTC_E_MALFORMED:
        return "malformed input";
    case IOTC_E_NOSPACE:
        return "output buffer too small";
    case IOTC_E_STATE:
        return "invalid state or programmer error";
    case IOTC_E_IO:
        return "I/O error";
    case IOTC_E_AUTH:
        return "authentication failed";
    case IOTC_E_EXPIRED:
        return "token expired";
    case IOTC_E_ARG:
        return "invalid argument";
    case IOTC_E_NOTFOUND:
        return "not found";
    case IOTC_E_NOMEM:
        return "out of memory";
    case IOTC_E_TIMEOUT:
        return "timed out";
    case IOTC_E_CRYPTO:
        return "crypto library failure";
    case IOTC_E_TOOBIG:
        return "input too large or out of range";
    case IOTC_E_REFUSED:
        return "refused by peer";
    default:
        return "unknown error";
    }
}
