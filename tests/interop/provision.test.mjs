// Provisioning with the unchanged official Node SDKs: azure-iot-provisioning-device(-mqtt) +
// azure-iot-security-symmetric-key against iotc-central's DPS, with a group-derived key and
// with an individual key; then azure-iot-device-mqtt connects to the assigned hub.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

import { interopMain } from './lib/central.mjs';
import { createSuite } from './lib/harness.mjs';

const require = createRequire(import.meta.url);

/** DPS group key derivation (docs/PROTOCOL.md §3), computed independently of the server. */
const deriveKey = (groupKey, regId) =>
    crypto.createHmac('sha256', Buffer.from(groupKey, 'base64')).update(regId, 'utf8').digest('base64');

await interopMain(import.meta.url, async (app) => {
    const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
    const { Mqtt: ProvMqtt } = require('azure-iot-provisioning-device-mqtt');
    const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
    const { Client, Message } = require('azure-iot-device');
    const { Mqtt } = require('azure-iot-device-mqtt');
    const { Registry } = require('azure-iothub');
    const registry = Registry.fromConnectionString(app.serviceConnectionString);
    const s = createSuite('provision');

    async function provision(regId, key, payload, host = app.dpsHost) {
        const security = new SymmetricKeySecurityClient(regId, key);
        const client = ProvisioningDeviceClient.create(host, app.idScope, new ProvMqtt(), security);
        if (payload) client.setProvisioningPayload(payload);
        return client.register();
    }

    async function connectAndSend(hub, deviceId, key) {
        const cs = `HostName=${hub};DeviceId=${deviceId};SharedAccessKey=${key}`;
        const client = Client.fromConnectionString(cs, Mqtt);
        try {
            await client.open();
            const msg = new Message(JSON.stringify({ temperature: 21.5 }));
            msg.properties.add('source', 'provision-test');
            await client.sendEvent(msg);
        } finally {
            await client.close().catch(() => {});
        }
    }

    s.test('group enrollment: derived key registers, device is assigned and connects', async () => {
        const regId = 'interop-group-1';
        const key = deriveKey(app.groupKey, regId);
        const result = await provision(regId, key, { modelId: 'dtmi:com:example:Thermostat;1' });
        assert.equal(result.status, 'assigned');
        assert.equal(result.deviceId, regId);
        assert.equal(result.assignedHub, app.assignedHub);
        await connectAndSend(result.assignedHub, result.deviceId, key);
        const { responseBody: d } = await registry.get(regId);
        assert.equal(d.authentication.symmetricKey.primaryKey, key);
        const { responseBody: twin } = await registry.getTwin(regId);
        assert.equal(twin.modelId, 'dtmi:com:example:Thermostat;1');
    }, { timeout: 20000 });

    s.test('group enrollment: the secondary group key derives a working key too', async () => {
        const regId = 'interop-group-2';
        const key = deriveKey(app.groupSecondaryKey, regId);
        const result = await provision(regId, key, undefined, `127.0.0.1:${app.mqttPort}`);
        assert.equal(result.deviceId, regId);
        assert.equal(result.assignedHub, app.assignedHub);
    }, { timeout: 20000 });

    s.test('group enrollment: a wrong key is refused', async () => {
        const regId = 'interop-group-bad';
        const key = deriveKey(Buffer.alloc(64, 3).toString('base64'), regId);
        await assert.rejects(provision(regId, key));
        await assert.rejects(registry.get(regId), (err) => err.name === 'DeviceNotFoundError');
    }, { timeout: 20000 });

    s.test('individual enrollment: device created with azure-iothub, provisioned with its key', async () => {
        const id = 'interop-individual-1';
        const { responseBody: d } = await registry.create({ deviceId: id });
        const key = d.authentication.symmetricKey.primaryKey;
        const result = await provision(id, key);
        assert.equal(result.status, 'assigned');
        assert.equal(result.deviceId, id);
        assert.equal(result.assignedHub, app.assignedHub);
        await connectAndSend(result.assignedHub, id, key);
        // The secondary key works as well; a group-derived key does not, for this device.
        const again = await provision(id, d.authentication.symmetricKey.secondaryKey);
        assert.equal(again.deviceId, id);
        // An individual enrollment takes precedence over the group: the group-derived key
        // must not register (it would silently re-key the device).
        let accepted = null;
        try {
            accepted = await provision(id, deriveKey(app.groupKey, id));
        } catch {
            accepted = null;
        }
        assert.equal(accepted, null, `group key accepted for an individual device: ${JSON.stringify(accepted)}`);
    }, { timeout: 25000 });

    s.test('a disabled device is not assigned', async () => {
        const id = 'interop-disabled-1';
        const { responseBody: d } = await registry.create({ deviceId: id, status: 'disabled' });
        await assert.rejects(provision(id, d.authentication.symmetricKey.primaryKey));
    }, { timeout: 20000 });

    return s.run();
});
