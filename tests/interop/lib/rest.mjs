// Raw HTTPS calls to the service API, for what the SDK cannot show (status codes, headers,
// malformed requests). The CA comes from NODE_EXTRA_CA_CERTS like for the SDKs.
import https from 'node:https';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { SharedAccessSignature, anHourFromNow } = require('azure-iot-common');

/** A service SAS token as azure-iothub builds it (sr = HostName text, skn before se). */
export function serviceToken(app, { host = app.serviceHost, policy = app.servicePolicy,
    key = app.serviceKey, se = anHourFromNow() } = {}) {
    return SharedAccessSignature.create(host, policy, key, se).toString();
}

/**
 * One request. opts: body (string/Buffer/object -> JSON), headers, token (false = none).
 * Resolves {status, headers, text, json}.
 */
export function rest(app, method, path, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    if (opts.token !== false) headers.Authorization = opts.token || serviceToken(app);
    let body = opts.body;
    if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
        body = JSON.stringify(body);
        headers['Content-Type'] = 'application/json; charset=utf-8';
    }
    if (body !== undefined) headers['Content-Length'] = Buffer.byteLength(body);
    return new Promise((resolve, reject) => {
        const req = https.request({ host: app.hubHost, port: app.httpsPort, method, path, headers,
            agent: false }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                let json;
                try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
                resolve({ status: res.statusCode, headers: res.headers, text, json });
            });
            res.on('error', reject);
        });
        req.on('error', reject);
        req.setTimeout(20000, () => req.destroy(new Error('request timed out')));
        if (body !== undefined) req.write(body);
        req.end();
    });
}

/** Assert the IoT Hub error shape: status, iothub-errorcode, JSON content type, Message. */
export function hubError(res, status, code) {
    const where = `${res.status} ${res.text}`;
    if (res.status !== status) throw new Error(`expected ${status}, got ${where}`);
    if (res.headers['iothub-errorcode'] !== code) {
        throw new Error(`expected iothub-errorcode ${code}, got ${res.headers['iothub-errorcode']}`);
    }
    if (!/^application\/json; charset=utf-8$/i.test(res.headers['content-type'] || '')) {
        throw new Error(`bad content-type ${res.headers['content-type']}`);
    }
    if (!res.json || typeof res.json.Message !== 'string' || typeof res.json.ExceptionMessage !== 'string') {
        throw new Error(`bad error body ${res.text}`);
    }
    return res.json;
}
