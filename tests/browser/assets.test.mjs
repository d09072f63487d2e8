// The web UI's HTTP side without a browser: index and asset caching (ETag, 304, immutable URLs
// under the build id), refusals (unknown build, path tricks, methods), the CA download and the
// application facts endpoint's authentication and role rules, on both listeners.
import https from 'node:https';
import http from 'node:http';
import fs from 'node:fs';
import { runSteps, startCentral } from './lib.mjs';

/** A raw GET/POST that keeps the path exactly as given (no URL normalisation). */
function raw(app, { tls = false, method = 'GET', path, headers = {} }) {
    const mod = tls ? https : http;
    return new Promise((resolve, reject) => {
        const req = mod.request({
            host: '127.0.0.1', port: tls ? app.https : app.http, method, path, headers,
            ca: tls ? fs.readFileSync(`${app.dir}/ca.pem`) : undefined, servername: 'localhost',
        }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end();
    });
}

await runSteps(async (step) => {
    const app = await startCentral();
    let build = '';
    let index = null;
    const expect = (cond, what) => {
        if (!cond) throw new Error(what);
    };

    step('GET / over HTTPS (trusting the application CA): index.html, no-cache, ETag, CSP', async () => {
        index = await raw(app, { tls: true, path: '/' });
        expect(index.status === 200, `status ${index.status}`);
        expect(/text\/html/.test(index.headers['content-type']), 'content type');
        expect(index.headers['cache-control'] === 'no-cache', `cache-control ${index.headers['cache-control']}`);
        expect(/^"[0-9a-f]+"$/.test(index.headers.etag), 'etag');
        expect(/script-src 'self'/.test(index.headers['content-security-policy']), 'CSP');
        expect(index.headers['x-content-type-options'] === 'nosniff', 'nosniff');
        build = /\/ui\/([0-9a-f]{12})\/js\/main\.js/.exec(index.body)[1];
        expect(!index.body.includes('%BUILD%'), 'placeholder left in index.html');
    });
    step('conditional GET of the index: 304', async () => {
        const r = await raw(app, { tls: true, path: '/index.html', headers: { 'If-None-Match': index.headers.etag } });
        expect(r.status === 304 && r.body === '', `status ${r.status}`);
    });
    step('assets: immutable under the build id, correct types, uPlot included', async () => {
        for (const [p, type] of [['js/main.js', 'text/javascript'], ['app.css', 'text/css'], ['vendor/uPlot.esm.js', 'text/javascript'], ['vendor/uPlot.min.css', 'text/css']]) {
            const r = await raw(app, { path: `/ui/${build}/${p}` });
            expect(r.status === 200, `${p}: ${r.status}`);
            expect(r.headers['content-type'].startsWith(type), `${p}: ${r.headers['content-type']}`);
            expect(/immutable/.test(r.headers['cache-control']), `${p}: ${r.headers['cache-control']}`);
            const again = await raw(app, { path: `/ui/${build}/${p}`, headers: { 'If-None-Match': r.headers.etag } });
            expect(again.status === 304, `${p} conditional: ${again.status}`);
        }
    });
    step('unknown build id, unknown file, path tricks: 404', async () => {
        for (const p of ['/ui/000000000000/app.css', `/ui/${build}/nope.js`, `/ui/${build}/../${build}/app.css`,
            `/ui/${build}/js/%2e%2e/app.css`, `/ui/${build}/index.html`, '/ui/x']) {
            const r = await raw(app, { path: p });
            expect(r.status === 404, `${p}: ${r.status}`);
        }
    });
    step('other methods: 405', async () => {
        const r = await raw(app, { method: 'POST', path: '/' });
        expect(r.status === 405, `status ${r.status}`);
    });
    step('the CA certificate is downloadable without a token', async () => {
        const r = await raw(app, { tls: true, path: '/ui/ca.pem' });
        expect(r.status === 200 && r.body === fs.readFileSync(`${app.dir}/ca.pem`, 'utf8'), `status ${r.status}`);
        expect(/attachment/.test(r.headers['content-disposition']), 'content-disposition');
    });
    step('application facts: 401 without a token, keys for the administrator only', async () => {
        const none = await raw(app, { path: '/ui/api/application' });
        expect(none.status === 401 && JSON.parse(none.body).error.code === 'Unauthorized', `no token: ${none.status}`);
        const admin = await raw(app, { path: '/ui/api/application', headers: { Authorization: app.token } });
        const a = JSON.parse(admin.body);
        expect(admin.status === 200 && /^0ne[0-9A-F]{8}$/.test(a.idScope) && a.enrollmentGroup.primaryKey.length > 40, admin.body);
        expect(a.httpPort === app.http && a.httpsPort === app.https && a.mqttsPort === app.mqtts, 'ports');
        expect(a.wssPort === 0, `wssPort ${a.wssPort} (the test server runs with --wss-port off)`);
        const put = await fetch(`http://127.0.0.1:${app.http}/api/apiTokens/ops?api-version=2022-07-31`, {
            method: 'PUT', headers: { Authorization: app.token, 'Content-Type': 'application/json' },
            body: JSON.stringify({ roles: [{ role: 'operator' }] }),
        });
        const tok = (await put.json()).token;
        const ops = await raw(app, { path: '/ui/api/application', headers: { Authorization: tok } });
        const o = JSON.parse(ops.body);
        expect(ops.status === 200 && o.role === 'operator' && o.enrollmentGroup === undefined, ops.body);
    });
    step('plain HTTP serves the APIs too, on loopback only', async () => {
        const r = await raw(app, { path: '/api/devices?api-version=2022-07-31', headers: { Authorization: app.token } });
        expect(r.status === 200, `status ${r.status}`);
        const ports = JSON.parse(fs.readFileSync(`${app.dir}/ports.json`, 'utf8'));
        expect(ports.http === app.http, 'ports.json');
        const ss = fs.readFileSync('/proc/net/tcp', 'utf8').split('\n')
            .filter((l) => l.includes(`:${app.http.toString(16).toUpperCase().padStart(4, '0')} `) && / 0A /.test(l));
        expect(ss.length === 1 && ss[0].trim().split(/\s+/)[1].startsWith('0100007F:'), `listener: ${ss.join('|')}`);
    });
    return null;
}, 30000);
