/*
 * web.h - the operator web UI served by iotc-central (web/, docs/WEB.md).
 *
 * The UI's files are compiled into the binary: tools/embed-web.mjs turns web/ and the uPlot
 * files into $(BUILDDIR)/gen/web_assets.c, which defines the table below. web_server.c serves
 * them from the same listeners as the APIs (HTTPS, and plain HTTP on 127.0.0.1 with
 * --http-port) as web_site, the first site main.c adds to the HTTP server:
 *   GET /                       index.html (Cache-Control: no-cache, ETag)
 *   GET /ui/<build id>/<path>   every other asset (immutable: the build id changes with them)
 *   GET /ui/ca.pem              the application's CA certificate (public)
 *   GET /ui/api/application     ID scope, hub, enrollment group keys (administrator token)
 * Loop thread only.
 */
#ifndef CENTRAL_WEB_H
#define CENTRAL_WEB_H

#include <stddef.h>

#include "central/http/http_server.h"

/** One embedded file. */
struct web_asset {
    const char *path;         /**< relative to web/ ("index.html", "js/app.js", "vendor/...") */
    const char *content_type; /**< Content-Type header value */
    const unsigned char *data;
    size_t len;
    const char *etag; /**< quoted strong ETag (hash of data) */
};

/** Generated table (gen/web_assets.c). */
extern const struct web_asset web_assets[];
extern const size_t web_assets_count;
/** Hash of every asset; part of each asset URL. */
extern const char web_build_id[];

/** The UI's routes (GET only); it owns /, /index.html and /ui/... */
extern const struct http_site web_site;

#endif /* CENTRAL_WEB_H */
