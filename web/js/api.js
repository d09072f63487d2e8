// The application API (/api/, docs/API.md) as seen from the page: the operator's token,
// JSON requests whose failures become ApiError with the server's own words, paged lists,
// and the per-device event stream (read with fetch, since EventSource cannot send the
// Authorization header).
export const API_VERSION = '2022-07-31';
const TOKEN_KEY = 'iotc.token';

export class ApiError extends Error {
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
    }
    /** One sentence for the operator: what the server said, with the HTTP status and code. */
    describe() {
        if (this.status === 0) return this.message;
        return `${this.message} (HTTP ${this.status} ${this.code})`;
    }
}

export function getToken() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(t) {
    sessionStorage.setItem(TOKEN_KEY, t.trim());
}

export function clearToken() {
    sessionStorage.removeItem(TOKEN_KEY);
}

const listeners = new Set();
/** fn(err) is called for every 401, so the app can ask for a token again. */
export function onUnauthorized(fn) {
    listeners.add(fn);
}

/** Path and query of a nextLink, so a page served over plain HTTP can follow it too. */
export function sameOrigin(link) {
    const u = new URL(link, location.href);
    return u.pathname + u.search;
}

function withVersion(path) {
    if (/[?&]api-version=/.test(path)) return path;
    return `${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`;
}

/** Encode one path segment (ids like "dtmi:a:b;1" keep their shape, but ";" "/" "?" "#" are escaped). */
export function seg(s) {
    return encodeURIComponent(s);
}

async function errorOf(res) {
    const text = await res.text().catch(() => '');
    let j = null;
    try {
        j = text ? JSON.parse(text) : null;
    } catch {
        j = null;
    }
    const e = j && j.error;
    if (e && e.message) return new ApiError(res.status, e.code || res.statusText, e.message);
    const code = res.headers.get('x-ms-error-code') || res.statusText || 'Error';
    return new ApiError(res.status, code, text.trim() || `The server answered ${res.status} ${res.statusText}.`);
}

/**
 * One request. @p body (an object) is sent as JSON. Resolves with the parsed JSON (null for
 * 204); rejects with ApiError.
 */
export async function api(method, path, body, { signal, contentType } = {}) {
    const headers = { Authorization: getToken() };
    const init = { method, headers, signal, cache: 'no-store' };
    if (body !== undefined) {
        headers['Content-Type'] = contentType || 'application/json';
        init.body = JSON.stringify(body);
    }
    let res;
    try {
        res = await fetch(withVersion(path), init);
    } catch (err) {
        if (err && err.name === 'AbortError') throw err;
        throw new ApiError(0, 'NetworkError', `The server cannot be reached (${err && err.message ? err.message : err}).`);
    }
    if (!res.ok) {
        const e = await errorOf(res);
        if (res.status === 401) for (const fn of listeners) fn(e);
        throw e;
    }
    if (res.status === 204) return null;
    const text = await res.text();
    if (!text) return null;
    try {
        return JSON.parse(text);
    } catch {
        throw new ApiError(res.status, 'BadResponse', 'The server sent a reply that is not JSON.');
    }
}

export const get = (p, o) => api('GET', p, undefined, o);
export const put = (p, b) => api('PUT', p, b);
export const patch = (p, b) => api('PATCH', p, b, { contentType: 'application/merge-patch+json' });
export const post = (p, b) => api('POST', p, b);
export const del = (p) => api('DELETE', p);

/** Every item of a collection, following nextLink (at most @p maxItems). */
export async function list(path, { maxItems = 5000, signal } = {}) {
    const out = [];
    let next = path;
    while (next && out.length < maxItems) {
        const page = await get(next, { signal });
        out.push(...((page && page.value) || []));
        next = page && page.nextLink ? sameOrigin(page.nextLink) : null;
    }
    return out;
}

/** The application facts for the Administration page (web UI endpoint, not /api/). */
export async function application() {
    let res;
    try {
        res = await fetch('/ui/api/application', { headers: { Authorization: getToken() }, cache: 'no-store' });
    } catch (err) {
        throw new ApiError(0, 'NetworkError', `The server cannot be reached (${err.message}).`);
    }
    if (!res.ok) {
        const e = await errorOf(res);
        if (res.status === 401) for (const fn of listeners) fn(e);
        throw e;
    }
    return res.json();
}

/**
 * Where devices reach MQTT over WebSockets, from the application facts: the HTTPS listener's
 * second port (wssPort, 443 by default) or else the HTTPS port. The SDKs always dial 443, so on
 * any other port the text says so.
 */
export function webSocketText(app) {
    const port = app.wssPort || app.httpsPort;
    if (port === 443) return `MQTT over WebSockets (the SDKs' WebSocket option, port 443): wss://${app.hubHost}/$iothub/websocket.`;
    return `MQTT over WebSockets: wss://${app.hubHost}:${port}/$iothub/websocket. The SDKs' WebSocket option always dials port 443: forward 443 here, or let iotc-central listen on 443 (--wss-port).`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Follow GET /api/devices/{id}/events. onEvent(type, data) for each event; onState(state, text)
 * with 'connecting' | 'live' | 'error'. Reconnects after errors. Returns a stop function.
 */
export function stream(deviceId, onEvent, onState = () => {}) {
    const ctrl = new AbortController();
    let stopped = false;
    (async () => {
        while (!stopped) {
            onState('connecting', 'Live updates: connecting…');
            try {
                const res = await fetch(withVersion(`/api/devices/${seg(deviceId)}/events`), {
                    headers: { Authorization: getToken(), Accept: 'text/event-stream' },
                    signal: ctrl.signal,
                    cache: 'no-store',
                });
                if (!res.ok) {
                    const e = await errorOf(res);
                    if (res.status === 401) for (const fn of listeners) fn(e);
                    onState('error', `Live updates unavailable: ${e.describe()}`);
                    if (res.status === 401 || res.status === 403 || res.status === 404) return;
                } else {
                    onState('live', 'Live updates on');
                    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
                    let buf = '';
                    for (;;) {
                        const { value, done } = await reader.read();
                        if (done) break;
                        buf += value.replace(/\r\n?/g, '\n');
                        let i;
                        while ((i = buf.indexOf('\n\n')) >= 0) {
                            const block = buf.slice(0, i);
                            buf = buf.slice(i + 2);
                            let type = 'message';
                            const data = [];
                            for (const line of block.split('\n')) {
                                if (line.startsWith(':')) continue;
                                const k = line.indexOf(':');
                                const field = k < 0 ? line : line.slice(0, k);
                                const val = k < 0 ? '' : line.slice(k + 1).replace(/^ /, '');
                                if (field === 'event') type = val;
                                else if (field === 'data') data.push(val);
                            }
                            if (data.length === 0) continue;
                            let parsed;
                            try {
                                parsed = JSON.parse(data.join('\n'));
                            } catch {
                                parsed = data.join('\n');
                            }
                            try {
                                onEvent(type, parsed);
                            } catch (err) {
                                console.error('event handler failed', err);
                            }
                        }
                    }
                    if (!stopped) onState('error', 'Live updates: the stream ended; reconnecting…');
                }
            } catch (err) {
                if (stopped) return;
                onState('error', `Live updates: the stream was interrupted (${err.message}); reconnecting…`);
            }
            await sleep(2000);
        }
    })();
    return () => {
        stopped = true;
        ctrl.abort();
    };
}
