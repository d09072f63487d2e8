// MQTT over WebSockets with the unchanged official Node SDKs, the way devices meet it: the file
// runs in a private network namespace (lib/netns.mjs) where iotc-central runs with its default
// settings, so it serves MQTT/TLS on 8883, HTTPS on 8443 and, by default, the same HTTPS site on
// 443 too, where the SDKs' WebSocket transports dial (wss://{HostName}:443/$iothub/websocket,
// whatever port HostName names). azure-iot-device-mqtt's MqttWs and
// azure-iot-provisioning-device-mqtt's MqttWs are given host names without a port and reach the
// server with no port mapping at all; the same broker serves them (SAS, X.509, telemetry stored,
// twin, refusals); azure-iothub uses the port-less connection string `show` prints. Further
// servers in the same namespace show --wss-port: off binds nothing, a taken 443 is logged and the
// server carries on, a missing privilege is logged, a named port is bound or the start fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { builddir, interopMain } from './lib/central.mjs';
import { createSuite } from './lib/harness.mjs';
import { privateNetwork } from './lib/netns.mjs';

const require = createRequire(import.meta.url);

const deriveKey = (groupKey, regId) =>
    crypto.createHmac('sha256', Buffer.from(groupKey, 'base64')).update(regId, 'utf8').digest('base64');

/**
 * A raw upgrade request to @p port (a server whose CA is @p ca, default: the main server's);
 * resolves {status, headers} of the answer (101 or an error).
 */
function upgrade(app, port, headers, ca = undefined) {
    return new Promise((resolve, reject) => {
        const req = https.request({ host: app.hubHost, port, path: '/$iothub/websocket', headers, agent: false, ca });
        req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode, headers: res.headers }); });
        req.on('response', (res) => { res.resume(); resolve({ status: res.statusCode, headers: res.headers }); });
        req.on('error', reject);
        req.end();
    });
}

const wsHeaders = () => ({ Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'), 'Sec-WebSocket-Protocol': 'mqtt' });

/** Listening TCP sockets of process @p pid on @p port, from its descriptors and /proc/net. */
function listensOn(pid, port) {
    const inodes = new Set();
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        let link = '';
        try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m) inodes.add(m[1]);
    }
    let n = 0;
    for (const table of ['tcp', 'tcp6']) {
        for (const line of fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
            const f = line.trim().split(/\s+/);
            if (f.length < 10) continue;
            const localPort = parseInt(f[1].split(':').pop(), 16);
            if (localPort === port && f[3] === '0A' && inodes.has(f[9])) n++; // 0A: LISTEN
        }
    }
    return n;
}

/**
 * Another iotc-central in this namespace with @p args after `serve --data-dir DIR` (run through
 * the command @p prefix, e.g. setpriv, which execs it: same pid); resolves
 * once it printed "ready" or ended: {out, code, log(), ports(), ca(), pid, stop()}.
 */
async function serveAnother(args, prefix = []) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotc-wss-'));
    const argv = [...prefix, path.join(builddir(), 'iotc-central'), 'serve', '--data-dir', path.join(dir, 'app'), ...args];
    const logFd = fs.openSync(path.join(dir, 'log'), 'w');
    const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', logFd] });
    fs.closeSync(logFd);
    let out = '';
    let code = null;
    const ended = new Promise((r) => p.on('exit', (c, sig) => { code = c ?? sig; r(); }));
    await new Promise((resolve, reject) => {
        const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`not ready in 15 s: ${out}`)); }, 15000);
        p.stdout.setEncoding('utf8').on('data', (d) => {
            out += d;
            if (/^ready$/m.test(out)) { clearTimeout(t); resolve(); }
        });
        ended.then(() => { clearTimeout(t); resolve(); });
    });
    return {
        out, pid: p.pid,
        get code() { return code; },
        log: () => fs.readFileSync(path.join(dir, 'log'), 'utf8'),
        ports: () => JSON.parse(fs.readFileSync(path.join(dir, 'app', 'ports.json'), 'utf8')),
        ca: () => fs.readFileSync(path.join(dir, 'app', 'ca.pem')),
        async stop() {
            if (code === null) {
                p.kill('SIGTERM');
                await ended;
            }
            fs.rmSync(dir, { recursive: true, force: true });
            return code;
        },
    };
}

await privateNetwork(import.meta.url);
await interopMain(import.meta.url, async (app) => {
    const { Client, Message } = require('azure-iot-device');
    const { MqttWs } = require('azure-iot-device-mqtt');
    const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
    const { MqttWs: ProvMqttWs } = require('azure-iot-provisioning-device-mqtt');
    const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
    const { Registry } = require('azure-iothub');
    const bin = path.join(builddir(), 'iotc-central');
    const show = spawnSync(bin, ['show', '--data-dir', app.dataDir, '--json'], { encoding: 'utf8' });
    const shown = JSON.parse(show.stdout);
    // HostName without a port: the HTTPS site is on 443 too, so azure-iothub needs no help
    const registry = Registry.fromConnectionString(shown.serviceConnectionString);
    const s = createSuite('websocket');
    const wsHost = app.hubHost; // "localhost": the SDKs dial its port 443 themselves
    const serverLog = () => fs.readFileSync(path.join(app.dataDir, 'central.log'), 'utf8');

    s.test('default settings: MQTT/TLS 8883, HTTPS 8443 and 443, in ports.json, show and the log', async () => {
        assert.deepEqual([app.mqttPort, app.httpsPort, app.wssPort], [8883, 8443, 443]);
        assert.equal(app.assignedHub, 'localhost');
        assert.equal(shown.wssPort, 443);
        assert.equal(shown.webSocketUrl, 'wss://localhost/$iothub/websocket');
        assert.match(shown.serviceConnectionString, /^HostName=localhost;SharedAccessKeyName=/);
        assert.match(serverLog(), /https: also on port 443, where the Azure SDKs dial MQTT over WebSockets/);
        const text = spawnSync(bin, ['show', '--data-dir', app.dataDir], { encoding: 'utf8' }).stdout;
        assert.match(text, /^MQTT over WebSockets: +wss:\/\/localhost\/\$iothub\/websocket$/m);
        const pid = JSON.parse(fs.readFileSync(path.join(app.dataDir, 'ports.json'), 'utf8')).pid;
        assert.equal(listensOn(pid, 443), 1);
        assert.equal(listensOn(pid, 8443), 1);
    });

    s.test('MqttWs: a SAS device connects over wss, sends telemetry, reads its twin', async () => {
        const { responseBody: d } = await registry.create({ deviceId: 'ws-dev-1' });
        const key = d.authentication.symmetricKey.primaryKey;
        const client = Client.fromConnectionString(`HostName=${wsHost};DeviceId=ws-dev-1;SharedAccessKey=${key}`, MqttWs);
        try {
            await client.open();
            await client.sendEvent(new Message(JSON.stringify({ temperature: 19 })));
            const twin = await client.getTwin();
            await new Promise((resolve, reject) =>
                twin.properties.reported.update({ over: 'websocket' }, (err) => (err ? reject(err) : resolve())));
        } finally {
            await client.close().catch(() => {});
        }
        const { responseBody: t } = await registry.getTwin('ws-dev-1');
        assert.equal(t.properties.reported.over, 'websocket');
        assert.match(serverLog(), /ws: 127\.0\.0\.1:\d+ upgraded to MQTT over WebSockets/);
        const { responseBody: g } = await registry.get('ws-dev-1');
        assert.ok(g.lastActivityTime > '2000');
    }, { timeout: 20000 });

    s.test('MqttWs: a wrong key is refused', async () => {
        const client = Client.fromConnectionString(
            `HostName=${wsHost};DeviceId=ws-dev-1;SharedAccessKey=${Buffer.alloc(32, 1).toString('base64')}`, MqttWs);
        await assert.rejects(client.open());
        await client.close().catch(() => {});
    }, { timeout: 20000 });

    s.test('MqttWs with X.509: a selfSigned device connects over wss with its certificate; another is refused', async () => {
        const dir = path.join(app.dataDir, 'ws-certs');
        const certs = (...args) => {
            const r = spawnSync(path.join(builddir(), 'iotc-central'), ['certs', ...args], { encoding: 'utf8' });
            if (r.status !== 0) throw new Error(`certs ${args.join(' ')}: ${r.stderr}`);
        };
        certs('device', '--id', 'ws-x509-1', '--out', dir);
        certs('device', '--id', 'ws-x509-other', '--out', dir);
        const read = (n) => fs.readFileSync(path.join(dir, n), 'utf8');
        const sha1 = new crypto.X509Certificate(read('ws-x509-1.pem')).fingerprint.replace(/:/g, '');
        await registry.create({ deviceId: 'ws-x509-1', authentication: { x509Thumbprint: { primaryThumbprint: sha1 } } });
        const open = async (name) => {
            const client = Client.fromConnectionString(`HostName=${wsHost};DeviceId=ws-x509-1;x509=true`, MqttWs);
            client.setOptions({ cert: read(`${name}.pem`), key: read(`${name}-key.pem`) });
            try {
                await client.open();
                await client.sendEvent(new Message('{"t":3}'));
            } finally {
                await client.close().catch(() => {});
            }
        };
        await open('ws-x509-1');
        await assert.rejects(open('ws-x509-other'));
        const { responseBody: g } = await registry.get('ws-x509-1');
        assert.ok(g.lastActivityTime > '2000');
    }, { timeout: 20000 });

    s.test('provisioning MqttWs: group enrollment over wss, then the assigned hub over wss', async () => {
        const regId = 'ws-group-1';
        const key = deriveKey(app.groupKey, regId);
        const prov = ProvisioningDeviceClient.create(wsHost, app.idScope, new ProvMqttWs(),
            new SymmetricKeySecurityClient(regId, key));
        const r = await prov.register();
        assert.equal(r.status, 'assigned');
        assert.equal(r.deviceId, regId);
        assert.equal(r.assignedHub, 'localhost'); // as the Python SDK takes it: no port, 443 for wss
        const client = Client.fromConnectionString(`HostName=${r.assignedHub};DeviceId=${regId};SharedAccessKey=${key}`, MqttWs);
        await client.open();
        await client.sendEvent(new Message('{"t":2}'));
        await client.close();
    }, { timeout: 20000 });

    s.test('provisioning MqttWs with X509Security: individual enrollment over wss, then the hub over wss', async () => {
        const { X509Security } = require('azure-iot-security-x509');
        const dir = path.join(app.dataDir, 'ws-certs');
        const r0 = spawnSync(bin, ['certs', 'device', '--id', 'ws-dps-x509', '--out', dir], { encoding: 'utf8' });
        assert.equal(r0.status, 0, r0.stderr);
        const cert = fs.readFileSync(path.join(dir, 'ws-dps-x509.pem'), 'utf8');
        const key = fs.readFileSync(path.join(dir, 'ws-dps-x509-key.pem'), 'utf8');
        const sha256 = new crypto.X509Certificate(cert).fingerprint256.replace(/:/g, '');
        await registry.create({ deviceId: 'ws-dps-x509', authentication: { x509Thumbprint: { primaryThumbprint: sha256 } } });
        const prov = ProvisioningDeviceClient.create(wsHost, app.idScope, new ProvMqttWs(),
            new X509Security('ws-dps-x509', { cert, key }));
        const r = await prov.register();
        assert.equal(r.status, 'assigned');
        assert.equal(r.deviceId, 'ws-dps-x509');
        assert.equal(r.assignedHub, 'localhost');
        const client = Client.fromConnectionString(`HostName=${r.assignedHub};DeviceId=${r.deviceId};x509=true`, MqttWs);
        client.setOptions({ cert, key });
        try {
            await client.open();
            await client.sendEvent(new Message('{"t":4}'));
        } finally {
            await client.close().catch(() => {});
        }
        assert.match(serverLog(), /dps: connect ws-dps-x509 from ws:127\.0\.0\.1:/);
        assert.match(serverLog(), /hub: connect ws-dps-x509 from ws:127\.0\.0\.1:/);
    }, { timeout: 20000 });

    s.test('raw upgrade: 101 with the accept key and mqtt on 443 and 8443; errors without auth', async () => {
        const key = crypto.randomBytes(16).toString('base64');
        assert.equal((await upgrade(app, app.httpsPort, wsHeaders())).status, 101);
        const ok = await upgrade(app, 443, { Connection: 'Upgrade', Upgrade: 'websocket',
            'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Protocol': 'mqtt' });
        assert.equal(ok.status, 101);
        const want = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        assert.equal(ok.headers['sec-websocket-accept'], want);
        assert.equal(ok.headers['sec-websocket-protocol'], 'mqtt');
        const noProto = await upgrade(app, 443, { Connection: 'Upgrade', Upgrade: 'websocket',
            'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key });
        assert.equal(noProto.status, 400);
        const v8 = await upgrade(app, 443, { Connection: 'Upgrade', Upgrade: 'websocket',
            'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Protocol': 'mqtt' });
        assert.equal(v8.status, 426);
        assert.equal(v8.headers['sec-websocket-version'], '13');
        const plain = await upgrade(app, 443, {});
        assert.equal(plain.status, 400); // not 401: no API authorisation on this path
    }, { timeout: 20000 });

    s.test('443 taken: a second server with default settings starts, logs why, serves wss on its HTTPS port', async () => {
        const other = await serveAnother(['--mqtt-port', '0', '--https-port', '0']);
        try {
            assert.equal(other.code, null, `exited: ${other.log()}`);
            const ports = other.ports();
            assert.equal(ports.wss, 0);
            assert.doesNotMatch(other.out, /^wss-port/m);
            const lines = other.log().split('\n').filter((l) => l.includes('wss: '));
            assert.equal(lines.length, 1, lines.join('\n'));
            assert.match(lines[0], new RegExp(`WARN  wss: cannot listen on 127\\.0\\.0\\.1 port 443 \\(Address already in use: another program holds it\\); the WebSocket endpoint is on the HTTPS port ${ports.https} only`));
            assert.equal((await upgrade(app, ports.https, wsHeaders(), other.ca())).status, 101);
            assert.equal(listensOn(other.pid, 443), 0);
        } finally {
            assert.equal(await other.stop(), 0);
        }
    });

    s.test('--wss-port off: no listener besides the HTTPS port, nothing logged about 443', async () => {
        const other = await serveAnother(['--mqtt-port', '0', '--https-port', '0', '--wss-port', 'off']);
        try {
            assert.equal(other.code, null, `exited: ${other.log()}`);
            const ports = other.ports();
            assert.equal(ports.wss, 0);
            assert.equal(listensOn(other.pid, ports.https), 1); // the check sees listeners...
            assert.equal(listensOn(other.pid, 443), 0); // ...and this one has none on 443
            assert.doesNotMatch(other.log(), /wss: |also on port/);
            assert.doesNotMatch(other.out, /^wss-port/m);
        } finally {
            assert.equal(await other.stop(), 0);
        }
    });

    s.test('no privilege to bind 443 (CAP_NET_BIND_SERVICE dropped): one line, HTTPS port only', async () => {
        // setpriv takes the capability out of the bounding set, so the server (uid 0 of this
        // namespace) runs without it, as a service without AmbientCapabilities= does
        const other = await serveAnother(['--mqtt-port', '0', '--https-port', '0'],
            ['setpriv', '--bounding-set', '-net_bind_service', '--']);
        try {
            assert.equal(other.code, null, `exited: ${other.log()}`);
            const status = fs.readFileSync(`/proc/${other.pid}/status`, 'utf8');
            assert.equal((BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)[1]}`) >> 10n) & 1n, 0n);
            const ports = other.ports();
            assert.equal(ports.wss, 0);
            const lines = other.log().split('\n').filter((l) => l.includes('wss: '));
            assert.equal(lines.length, 1, lines.join('\n'));
            assert.match(lines[0], new RegExp('WARN  wss: not listening on port 443, the one the Azure SDKs dial for MQTT over '
                + 'WebSockets: it takes root or CAP_NET_BIND_SERVICE \\(net\\.ipv4\\.ip_unprivileged_port_start is 1024\\); '
                + `the WebSocket endpoint is on the HTTPS port ${ports.https} only`));
            assert.equal((await upgrade(app, ports.https, wsHeaders(), other.ca())).status, 101);
        } finally {
            assert.equal(await other.stop(), 0);
        }
    });

    s.test('--wss-port N: that port is bound; a taken one stops the start (exit 2)', async () => {
        const other = await serveAnother(['--mqtt-port', '0', '--https-port', '0', '--wss-port', '9443']);
        try {
            assert.equal(other.code, null, `exited: ${other.log()}`);
            assert.equal(other.ports().wss, 9443);
            assert.match(other.out, /^wss-port 9443$/m);
            assert.equal((await upgrade(app, 9443, wsHeaders(), other.ca())).status, 101);
        } finally {
            assert.equal(await other.stop(), 0);
        }
        const taken = await serveAnother(['--mqtt-port', '0', '--https-port', '0', '--wss-port', '443']);
        try {
            assert.equal(taken.code, 2);
            assert.match(taken.log(), /cannot listen on 127\.0\.0\.1 port 443: Address already in use/);
        } finally {
            await taken.stop();
        }
    });

    return s.run();
}, { serveArgs: [] }); // the default settings: MQTT/TLS 8883, HTTPS 8443, --wss-port auto
