/*
 * export_oauth.h - the pure part of webhook@v1's `oauth` authorization (IoT Central's OAuth 2.0
 * client-credentials flow): the definition's check, the token request, the token answer and
 * how long a token is used. No I/O, no clock; export_webhook.c does the requests on curl multi.
 *
 *   "authorization": {"type": "oauth", "tokenUrl": "https://...", "clientId": "...",
 *                     "clientSecret": "...", "audience"?: "...", "scope"?: "...",
 *                     "requestType"?: "auto" | "json" | "urlencoded"}
 */
#ifndef CENTRAL_EXPORT_OAUTH_H
#define CENTRAL_EXPORT_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/**
 * Check an `oauth` authorization object. @return 0, or -1 with a message naming the field
 * ("authorization.tokenUrl: required").
 */
int export_oauth_check(const cJSON *auth, char *err, size_t err_size);

/**
 * The token request body for a checked authorization: grant_type=client_credentials, client_id,
 * client_secret, audience and scope when given; form-urlencoded ("auto" and "urlencoded") or a
 * JSON object ("json"). *@p content_type is the matching Content-Type value (static).
 * @return a new string (caller frees) or NULL when out of memory.
 */
char *export_oauth_request_body(const cJSON *auth, const char **content_type);

/**
 * Read a token answer (RFC 6749 5.1: access_token, token_type, expires_in). On success
 * @p header holds the Authorization header value ("Bearer <token>"; token_type as given when it
 * is not bearer) and *@p expires_in_s the lifetime (3600 when the answer has none).
 * @return 0, or -1 with a reason in @p err that never quotes the answer.
 */
int export_oauth_parse_token(const char *body, size_t len, char *header, size_t header_size,
                             int64_t *expires_in_s, char *err, size_t err_size);

/**
 * How long a token with lifetime @p expires_in_s is used before a new one is fetched: its
 * lifetime less a tenth of it, at most 60 s less, at least 1 s in all.
 */
int64_t export_oauth_use_ms(int64_t expires_in_s);

#endif /* CENTRAL_EXPORT_OAUTH_H */
