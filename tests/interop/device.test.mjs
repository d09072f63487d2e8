// Device side with the unchanged azure-iot-device + azure-iot-device-mqtt against iotc-central's
// IoT Hub, driven from the service side with the unchanged azure-iothub: telemetry with
// properties, twin get / reported patch / desired push, direct methods (answer, device error
// status, timeout 504101, offline 404103) and our REST cloud-to-device endpoint.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { interopMain } from './lib/central.mjs';
import { createSuite, deadline, waitFor } from './lib/harness.mjs';
import { hubError, rest } from './lib/rest.mjs';

const require = createRequire(import.meta.url);

await interopMain(import.meta.url, async (app) => {
    const { Client, Message } = require('azure-iot-device');
    const { Mqtt } = require('azure-iot-device-mqtt');
    const iothub = require('azure-iothub');
    const registry = iothub.Registry.fromConnectionString(app.serviceConnectionString);
    const service = iothub.Client.fromConnectionString(app.serviceConnectionString);
    const s = createSuite('device');
    const ID = 'interop-dev-1';
    let device;      // azure-iot-device Client, connected by the first test
    let twin;        // its device-side Twin
    const desiredPatches = [];
    const c2d = [];

    s.test('connect with a registry-created device (HostName = assigned hub host:port)', async () => {
        const { responseBody: d } = await registry.create({ deviceId: ID });
        const cs = `HostName=${app.assignedHub};DeviceId=${ID};SharedAccessKey=${d.authentication.symmetricKey.primaryKey}`;
        device = Client.fromConnectionString(cs, Mqtt);
        device.on('error', (err) => console.log(`device error event: ${err}`));
        device.on('message', (msg) => {
            c2d.push(msg);
            device.complete(msg, () => {});
        });
        await device.open();
        const { responseBody: after } = await registry.get(ID);
        assert.equal(after.connectionState.toLowerCase(), 'connected');
    }, { timeout: 30000 }); // the first TLS/MQTT connection also loads the SDK's lazy modules

    s.test('telemetry with application and system properties is acknowledged', async () => {
        for (let i = 0; i < 3; i++) {
            const msg = new Message(JSON.stringify({ temperature: 20 + i, humidity: 40 }));
            msg.properties.add('temperatureAlert', i === 2 ? 'true' : 'false');
            msg.properties.add('sequence', String(i));
            msg.messageId = `m-${i}`;
            msg.contentType = 'application/json';
            msg.contentEncoding = 'utf-8';
            const r = await device.sendEvent(msg);
            assert.equal(r.constructor.name, 'MessageEnqueued');
        }
    });

    s.test('twin: GET returns versioned desired/reported', async () => {
        twin = await device.getTwin();
        assert.equal(typeof twin.properties.desired.$version, 'number');
        assert.equal(typeof twin.properties.reported.$version, 'number');
    });

    s.test('twin: reported patch is visible through azure-iothub getTwin', async () => {
        const before = (await registry.getTwin(ID)).responseBody.properties.reported.$version;
        await new Promise((resolve, reject) => twin.properties.reported.update(
            { firmware: '1.2.3', battery: { level: 87 }, nothing: null },
            (err) => (err ? reject(err) : resolve())));
        const { responseBody: t } = await registry.getTwin(ID);
        assert.equal(t.properties.reported.firmware, '1.2.3');
        assert.deepEqual(t.properties.reported.battery, { level: 87 });
        assert.equal(t.properties.reported.$version, before + 1);
        // null deletes
        await new Promise((resolve, reject) => twin.properties.reported.update(
            { firmware: null }, (err) => (err ? reject(err) : resolve())));
        const { responseBody: t2 } = await registry.getTwin(ID);
        assert.equal(t2.properties.reported.firmware, undefined);
        assert.deepEqual(t2.properties.reported.battery, { level: 87 });
    });

    s.test('twin: desired patch via Registry.updateTwin reaches the device', async () => {
        twin.on('properties.desired', (patch) => desiredPatches.push(JSON.parse(JSON.stringify(patch))));
        // The SDK subscribes when the listener is added and gives no signal when that is done;
        // like IoT Hub, the server pushes only to subscribed devices. So patch until one
        // arrives (each attempt with a new value), then check that one.
        let got;
        for (let attempt = 0; attempt < 10 && !got; attempt++) {
            const { responseBody: st } = await registry.getTwin(ID);
            const { responseBody: t } = await registry.updateTwin(ID,
                { properties: { desired: { telemetryInterval: 5, fan: { on: true }, attempt } } }, st.etag);
            const v = t.properties.desired.$version;
            got = await waitFor(() => desiredPatches.find((p) => p.$version === v), 1000, 'desired patch')
                .catch(() => undefined);
        }
        assert.ok(got, 'no desired patch reached the device');
        assert.equal(got.telemetryInterval, 5);
        assert.deepEqual(got.fan, { on: true });
        // The device-side twin merged it.
        assert.equal(twin.properties.desired.telemetryInterval, 5);
    });

    s.test('twin: Twin.update (service Twin object) also reaches the device', async () => {
        const { responseBody: st } = await registry.getTwin(ID);
        await st.update({ properties: { desired: { telemetryInterval: 10 } } });
        await waitFor(() => desiredPatches.find((p) => p.telemetryInterval === 10), 5000, 'second patch');
        assert.equal(twin.properties.desired.telemetryInterval, 10);
    });

    s.test('direct method: device answers, service gets {status, payload}', async () => {
        device.onDeviceMethod('reboot', (req, res) => {
            res.send(200, { echo: req.payload, name: req.methodName }, () => {});
        });
        device.onDeviceMethod('thermostat1*getMaxMinReport', (req, res) => {
            res.send(404, { error: `no report since ${req.payload}` }, () => {});
        });
        // connectTimeoutInSeconds covers the moment until the SDK's method subscription lands.
        const { result, message } = await service.invokeDeviceMethod(ID, {
            methodName: 'reboot', payload: { delay: 3, text: 'ünïcode ☃' }, responseTimeoutInSeconds: 10,
            connectTimeoutInSeconds: 5,
        });
        assert.equal(message.statusCode, 200);
        assert.deepEqual(result, { status: 200, payload: { echo: { delay: 3, text: 'ünïcode ☃' }, name: 'reboot' } });
        // The device's own error status is still HTTP 200 with that status inside.
        const r2 = await service.invokeDeviceMethod(ID, {
            methodName: 'thermostat1*getMaxMinReport', payload: '2024-01-01T00:00:00Z',
        });
        assert.equal(r2.message.statusCode, 200);
        assert.deepEqual(r2.result, { status: 404, payload: { error: 'no report since 2024-01-01T00:00:00Z' } });
    });

    s.test('direct method: no answer within responseTimeoutInSeconds -> 504 (504101)', async () => {
        device.onDeviceMethod('slow', () => { /* never answers */ });
        const started = Date.now();
        let err;
        try {
            await service.invokeDeviceMethod(ID, { methodName: 'slow', responseTimeoutInSeconds: 5 });
        } catch (e) {
            err = e;
        }
        assert.ok(err, 'expected an error');
        assert.equal(err.name, 'GatewayTimeoutError');
        assert.equal(err.response.statusCode, 504);
        const inner = JSON.parse(JSON.parse(err.responseBody).Message);
        assert.equal(inner.errorCode, 504101);
        assert.equal(inner.message, 'Timed out waiting for the response from device.');
        const took = Date.now() - started;
        assert.ok(took >= 4500 && took < 9000, `took ${took} ms`);
    }, { timeout: 15000 });

    s.test('direct method: registered but offline device -> 404 (404103, DeviceNotOnline)', async () => {
        await registry.create({ deviceId: 'interop-dev-offline' });
        const r = await rest(app, 'POST', '/twins/interop-dev-offline/methods?api-version=2021-04-12', {
            body: { methodName: 'reboot', responseTimeoutInSeconds: 30, connectTimeoutInSeconds: 0, payload: null },
        });
        const body = hubError(r, 404, 'DeviceNotOnline');
        const inner = JSON.parse(body.Message);
        assert.equal(inner.errorCode, 404103);
        assert.deepEqual(inner.info, { timeout: '00:00:00' });
        // connectTimeoutInSeconds is honoured: the call waits that long for the device.
        const started = Date.now();
        const r2 = await rest(app, 'POST', '/twins/interop-dev-offline/methods', {
            body: { methodName: 'reboot', responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 1 },
        });
        hubError(r2, 404, 'DeviceNotOnline');
        assert.ok(Date.now() - started >= 900, 'connect timeout not honoured');
    });

    s.test('C2D over our REST endpoint reaches the device with its properties', async () => {
        const r = await rest(app, 'POST', `/devices/${ID}/messages/deviceBound?api-version=2021-04-12`, {
            body: 'switch on',
            headers: {
                'iothub-messageid': 'c2d-1', 'iothub-correlationid': 'corr-9',
                'iothub-contenttype': 'text/plain', 'iothub-app-command': 'light/on & more',
                'iothub-app-priority': 'high', 'iothub-ack': 'none',
            },
        });
        assert.equal(r.status, 204, r.text);
        assert.equal(r.headers['iothub-messageid'], 'c2d-1');
        const msg = await waitFor(() => c2d.find((m) => m.messageId === 'c2d-1'), 5000, 'C2D message');
        assert.equal(msg.data.toString(), 'switch on');
        assert.equal(msg.correlationId, 'corr-9');
        assert.equal(msg.properties.getValue('command'), 'light/on & more');
        assert.equal(msg.properties.getValue('priority'), 'high');
        // Without a message id the server makes one and returns it.
        const r2 = await rest(app, 'POST', `/devices/${ID}/messages/deviceBound`, { body: '{"n":2}' });
        assert.equal(r2.status, 204);
        const mid = r2.headers['iothub-messageid'];
        assert.match(mid, /^[0-9a-f-]{36}$/);
        const m2 = await waitFor(() => c2d.find((m) => m.messageId === mid), 5000, 'second C2D message');
        assert.equal(m2.data.toString(), '{"n":2}');
    });

    s.test('C2D endpoint errors: unknown device 404, bad ack 400, too large 413', async () => {
        hubError(await rest(app, 'POST', '/devices/nobody/messages/deviceBound', { body: 'x' }), 404, 'DeviceNotFound');
        hubError(await rest(app, 'POST', `/devices/${ID}/messages/deviceBound`,
            { body: 'x', headers: { 'iothub-ack': 'maybe' } }), 400, 'ArgumentInvalid');
        hubError(await rest(app, 'POST', `/devices/${ID}/messages/deviceBound`,
            { body: 'x', headers: { 'iothub-ttl': '0' } }), 400, 'ArgumentInvalid');
        hubError(await rest(app, 'POST', `/devices/${ID}/messages/deviceBound`,
            { body: Buffer.alloc(64 * 1024 + 1, 65) }), 413, 'MessageTooLarge');
    });

    s.test('C2D queued while offline is delivered on reconnect', async () => {
        await device.close();
        await waitFor(async () => (await registry.get(ID)).responseBody.connectionState.toLowerCase() === 'disconnected',
            5000, 'disconnected state');
        const r = await rest(app, 'POST', `/devices/${ID}/messages/deviceBound`, {
            body: 'while you were away', headers: { 'iothub-messageid': 'c2d-offline' },
        });
        assert.equal(r.status, 204);
        const { responseBody: d } = await registry.get(ID);
        assert.equal(d.cloudToDeviceMessageCount, 1);
        await Promise.race([device.open(), deadline(8000, 'reconnect')]);
        const msg = await waitFor(() => c2d.find((m) => m.messageId === 'c2d-offline'), 8000, 'queued C2D');
        assert.equal(msg.data.toString(), 'while you were away');
    }, { timeout: 20000 });

    s.test('close; device shows disconnected; method is then DeviceNotOnline', async () => {
        await device.close();
        await waitFor(async () => (await registry.get(ID)).responseBody.connectionState.toLowerCase() === 'disconnected',
            5000, 'disconnected state');
        const err = await service.invokeDeviceMethod(ID, { methodName: 'reboot' }).then(() => null, (e) => e);
        assert.ok(err);
        assert.equal(err.response.statusCode, 404);
        assert.equal(err.response.headers['iothub-errorcode'], 'DeviceNotOnline');
    });

    return s.run();
});
