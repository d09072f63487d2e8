// TLS handshakes + MQTT CONNECT per second of the server's CPU: SAS devices next to X.509
// (selfSigned) devices, against a private iotc-central on loopback. Each connection: TLS
// handshake (with a client certificate for X.509), CONNECT, CONNACK, close; CONCURRENCY at a
// time. The server's CPU time is read from /proc before and after each run (its own process
// only: the load generator's handshakes are not counted). Prints one line per kind and a JSON
// summary.
//
//   IOTC_BUILDDIR=build/release node bench/x509_handshakes.mjs [--count 2000] [--concurrency 8]
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';

import { builddir, startCentral } from '../tests/interop/lib/central.mjs';

const require = createRequire(import.meta.url);
const { SharedAccessSignature, anHourFromNow } = require('azure-iot-common');

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const COUNT = opt('count', 2000);
const CONCURRENCY = opt('concurrency', 8);

/** MQTT 3.1.1 CONNECT (clean session, keep-alive 60); no password when pass is null. */
function connectPacket(clientId, user, pass) {
    const str = (s) => { const b = Buffer.from(s, 'utf8'); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]); };
    const flags = 0x02 | 0x80 | (pass !== null ? 0x40 : 0);
    const vh = Buffer.concat([str('MQTT'), Buffer.from([4, flags, 0, 60])]);
    const body = Buffer.concat([vh, str(clientId), str(user), pass !== null ? str(pass) : Buffer.alloc(0)]);
    const len = [];
    let n = body.length;
    do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 0x80; len.push(d); } while (n > 0);
    return Buffer.concat([Buffer.from([0x10, ...len]), body]);
}

function once(app, ca, packet, cert, key) {
    return new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: app.mqttPort, servername: 'localhost', ca, cert, key });
        s.once('secureConnect', () => s.write(packet));
        s.once('data', (d) => { s.destroy(); d[0] === 0x20 && d[3] === 0 ? resolve() : reject(new Error(`CONNACK ${d[3]}`)); });
        s.once('error', reject);
        s.once('close', () => reject(new Error('closed without CONNACK')));
    });
}

/** utime + stime of @p pid in seconds (/proc/PID/stat fields 14 and 15, in USER_HZ = 100). */
function cpuSeconds(pid) {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
}

/** PUT /devices/{id} on the service API; resolves the identity JSON. */
function putDevice(app, ca, body) {
    const token = SharedAccessSignature.create(app.serviceHost, app.servicePolicy, app.serviceKey,
        anHourFromNow()).toString();
    const text = JSON.stringify(body);
    return new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', servername: 'localhost', port: app.httpsPort, ca,
            method: 'PUT', path: `/devices/${body.deviceId}?api-version=2021-04-12`,
            headers: { Authorization: token, 'Content-Type': 'application/json',
                'Content-Length': Buffer.byteLength(text) } }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks)))
                : reject(new Error(`PUT ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(text);
    });
}

/* One device per worker (a second connection of one identity would close the first). */
async function run(app, pid, ca, packets, cert, key) {
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    let next = 0;
    const worker = async (w) => {
        while (next < COUNT) {
            next++;
            await once(app, ca, packets[w], cert, key);
        }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
    return { cpu: cpuSeconds(pid) - cpu0, wall: (performance.now() - t0) / 1000 };
}

const central = await startCentral();
try {
    const app = central.facts;
    const pid = Number(fs.readFileSync(path.join(app.dataDir, 'serve.pid'), 'utf8').trim());
    const ca = fs.readFileSync(app.caFile);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotc-bench-x509-'));
    const bin = path.join(builddir(), 'iotc-central');
    const r = spawnSync(bin, ['certs', 'device', '--id', 'bench-x509', '--out', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    const cert = fs.readFileSync(path.join(dir, 'bench-x509.pem'));
    const key = fs.readFileSync(path.join(dir, 'bench-x509-key.pem'));
    const sha1 = new crypto.X509Certificate(cert).fingerprint.replace(/:/g, '');
    const user = (id) => `${app.hubHost}/${id}/?api-version=2021-04-12`;
    const sasPackets = [];
    const x509Packets = [];
    for (let w = 0; w < CONCURRENCY; w++) {
        const sas = await putDevice(app, ca, { deviceId: `bench-sas-${w}` });
        const token = SharedAccessSignature.create(`${app.hubHost}/devices/bench-sas-${w}`, null,
            sas.authentication.symmetricKey.primaryKey, anHourFromNow()).toString();
        sasPackets.push(connectPacket(`bench-sas-${w}`, user(`bench-sas-${w}`), token));
        await putDevice(app, ca, { deviceId: `bench-x509-${w}`,
            authentication: { x509Thumbprint: { primaryThumbprint: sha1 } } });
        x509Packets.push(connectPacket(`bench-x509-${w}`, user(`bench-x509-${w}`), null));
    }
    const result = {};
    for (const [kind, packet, c, k] of [
        ['sas', sasPackets, undefined, undefined], ['x509', x509Packets, cert, key]]) {
        await run(app, pid, ca, packet, c, k); // warm-up at the same count
        const m = await run(app, pid, ca, packet, c, k);
        result[kind] = { connections: COUNT, serverCpuS: +m.cpu.toFixed(2), wallS: +m.wall.toFixed(2),
            perServerCpuS: Math.round(COUNT / m.cpu) };
        console.log(`${kind}: ${COUNT} handshakes+CONNECT, server CPU ${m.cpu.toFixed(2)} s ` +
            `(${Math.round(COUNT / m.cpu)} per server CPU-second), wall ${m.wall.toFixed(2)} s`);
    }
    console.log(JSON.stringify(result));
    fs.rmSync(dir, { recursive: true, force: true });
} finally {
    await central.stop();
    central.cleanup();
}
