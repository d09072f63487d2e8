// MQTT over WebSockets with the unchanged official Node SDKs: azure-iot-device-mqtt's MqttWs
// and azure-iot-provisioning-device-mqtt's MqttWs dial wss://{HostName}/$iothub/websocket with
// the `mqtt` subprotocol on iotc-central's HTTPS listener; the same broker serves them (SAS,
// telemetry stored, twin, refusals), and a raw upgrade checks the handshake's answers.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import https from 'node:https';
import { createRequire } from 'node:module';

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { builddir, interopMain } from './lib/central.mjs';
import { createSuite } from './lib/harness.mjs';

const require = createRequire(import.meta.url);

const deriveKey = (groupKey, regId) =>
    crypto.createHmac('sha256', Buffer.from(groupKey, 'base64')).update(regId, 'utf8').digest('base64');

/** A raw upgrade request; resolves {status, headers} of the answer (101 or an error). */
function upgrade(app, headers) {
    return new Promise((resolve, reject) => {
        const req = https.request({ host: app.hubHost, port: app.httpsPort, path: '/$iothub/websocket',
            headers, agent: false });
        req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode, headers: res.headers }); });
        req.on('response', (res) => { res.resume(); resolve({ status: res.statusCode, headers: res.headers }); });
        req.on('error', reject);
        req.end();
    });
}

/**
 * The SDKs' WebSocket transports always dial port 443 (wss://{HostName}:443/$iothub/websocket,
 * whatever port HostName names), as Azure serves WebSockets only there. The tests run the server
 * on a free port, so requests the ws library makes to this host's port 443 go to the HTTPS port
 * instead; nothing else of the request changes.
 */
function mapPort443(app) {
    const map = (o) => {
        if (o && typeof o === 'object' && !(o instanceof URL) && String(o.port) === '443') {
            const host = String(o.hostname || o.host || '').replace(/:.*$/, '');
            if (host === app.hubHost || host === '127.0.0.1') return { ...o, host, hostname: host, port: app.httpsPort };
        }
        return o;
    };
    const { request, get } = https;
    https.request = function (o, ...rest) { return request.call(this, map(o), ...rest); };
    https.get = function (o, ...rest) { return get.call(this, map(o), ...rest); };
}

await interopMain(import.meta.url, async (app) => {
    mapPort443(app);
    const { Client, Message } = require('azure-iot-device');
    const { MqttWs } = require('azure-iot-device-mqtt');
    const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
    const { MqttWs: ProvMqttWs } = require('azure-iot-provisioning-device-mqtt');
    const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
    const { Registry } = require('azure-iothub');
    const registry = Registry.fromConnectionString(app.serviceConnectionString);
    const s = createSuite('websocket');
    const wsHost = app.hubHost; // the SDKs add :443 themselves

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

    s.test('provisioning MqttWs: group enrollment over wss, then the hub over wss', async () => {
        const regId = 'ws-group-1';
        const key = deriveKey(app.groupKey, regId);
        const prov = ProvisioningDeviceClient.create(wsHost, app.idScope, new ProvMqttWs(),
            new SymmetricKeySecurityClient(regId, key));
        const r = await prov.register();
        assert.equal(r.status, 'assigned');
        assert.equal(r.deviceId, regId);
        const client = Client.fromConnectionString(`HostName=${wsHost};DeviceId=${regId};SharedAccessKey=${key}`, MqttWs);
        await client.open();
        await client.sendEvent(new Message('{"t":2}'));
        await client.close();
    }, { timeout: 20000 });

    s.test('raw upgrade: 101 with the accept key and mqtt; errors without auth', async () => {
        const key = crypto.randomBytes(16).toString('base64');
        const ok = await upgrade(app, { Connection: 'Upgrade', Upgrade: 'websocket',
            'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Protocol': 'mqtt' });
        assert.equal(ok.status, 101);
        const want = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        assert.equal(ok.headers['sec-websocket-accept'], want);
        assert.equal(ok.headers['sec-websocket-protocol'], 'mqtt');
        const noProto = await upgrade(app, { Connection: 'Upgrade', Upgrade: 'websocket',
            'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key });
        assert.equal(noProto.status, 400);
        const v8 = await upgrade(app, { Connection: 'Upgrade', Upgrade: 'websocket',
            'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Protocol': 'mqtt' });
        assert.equal(v8.status, 426);
        assert.equal(v8.headers['sec-websocket-version'], '13');
        const plain = await upgrade(app, {});
        assert.equal(plain.status, 400); // not 401: no API authorisation on this path
    }, { timeout: 20000 });

    return s.run();
});
