// Robustness of the HTTPS service API: clients that hang up during a direct method call,
// plain-text HTTP on the TLS port, many parallel requests on keep-alive connections, and a
// method call still pending when the server is stopped (the harness then checks that
// iotc-central exits cleanly, which under ASan also means without leaks).
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { createRequire } from 'node:module';

import { interopMain } from './lib/central.mjs';
import { createSuite } from './lib/harness.mjs';
import { rest, serviceToken } from './lib/rest.mjs';

const require = createRequire(import.meta.url);

await interopMain(import.meta.url, async (app) => {
    const { Client } = require('azure-iot-device');
    const { Mqtt } = require('azure-iot-device-mqtt');
    const { Registry } = require('azure-iothub');
    const registry = Registry.fromConnectionString(app.serviceConnectionString);
    const s = createSuite('robustness');
    const ID = 'robust-1';
    let device;

    const startMethod = (timeout) => {
        const body = JSON.stringify({ methodName: 'silent', responseTimeoutInSeconds: timeout,
            connectTimeoutInSeconds: 5 });
        const req = https.request({
            host: app.hubHost, port: app.httpsPort, method: 'POST', path: `/twins/${ID}/methods`,
            headers: { Authorization: serviceToken(app), 'Content-Type': 'application/json',
                'Content-Length': Buffer.byteLength(body) },
        });
        req.on('error', () => {});
        req.end(body);
        return req;
    };

    s.test('setup: a connected device whose method never answers', async () => {
        const { responseBody: d } = await registry.create({ deviceId: ID });
        device = Client.fromConnectionString(
            `HostName=${app.assignedHub};DeviceId=${ID};SharedAccessKey=${d.authentication.symmetricKey.primaryKey}`, Mqtt);
        await device.open();
        device.onDeviceMethod('silent', () => {});
        await new Promise((r) => setTimeout(r, 300));
    }, { timeout: 30000 });

    s.test('a client hanging up during a method call does not disturb the server', async () => {
        const req = startMethod(5);
        await new Promise((r) => setTimeout(r, 300));
        req.destroy();
        // The call ends at its response timeout; meanwhile and afterwards the API works.
        const r1 = await rest(app, 'GET', `/devices/${ID}`);
        assert.equal(r1.status, 200);
        await new Promise((r) => setTimeout(r, 5200));
        const r2 = await rest(app, 'GET', `/twins/${ID}`);
        assert.equal(r2.status, 200);
        assert.equal(r2.json.deviceId, ID);
    }, { timeout: 15000 });

    s.test('plain HTTP and garbage on the TLS port are dropped', async () => {
        for (const junk of ['GET /devices HTTP/1.1\r\nHost: x\r\n\r\n', '\x16\x03\x01\x00\x05hello']) {
            await new Promise((resolve, reject) => {
                const sock = net.connect(app.httpsPort, '127.0.0.1', () => sock.end(junk));
                sock.on('error', () => resolve());
                sock.on('close', () => resolve());
                sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('not closed')); });
                sock.resume();
            });
        }
        const r = await rest(app, 'GET', '/devices/');
        assert.equal(r.status, 200);
    });

    s.test('100 parallel requests over keep-alive connections', async () => {
        const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
        const token = serviceToken(app);
        const one = (i) => new Promise((resolve, reject) => {
            const req = https.request({ host: app.hubHost, port: app.httpsPort, agent,
                path: i % 2 ? `/twins/${ID}` : '/devices/', headers: { Authorization: token } }, (res) => {
                let n = 0;
                res.on('data', (c) => { n += c.length; });
                res.on('end', () => resolve({ status: res.statusCode, n }));
            });
            req.on('error', reject);
            req.end();
        });
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => one(i)));
        agent.destroy();
        assert.ok(results.every((r) => r.status === 200 && r.n > 0));
    });

    s.test('a method call is still pending when the server stops', async () => {
        startMethod(30);
        await new Promise((r) => setTimeout(r, 300));
        // The harness stops iotc-central right after this file and requires a clean exit.
    });

    return s.run();
});
