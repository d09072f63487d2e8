// Device-plane points shown with the unchanged Node SDKs that the other interop files do not
// show: the model id announced by azure-iot-device (setOptions({modelId}), sent unencoded in
// the MQTT username) is recorded in the registry and the twin, and a second connection of the
// same device drops the first (the first client sees 'disconnect', the second keeps working).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { interopMain } from './lib/central.mjs';
import { createSuite, waitFor } from './lib/harness.mjs';

const require = createRequire(import.meta.url);

await interopMain(import.meta.url, async (app) => {
    const { Client, Message } = require('azure-iot-device');
    const { Mqtt } = require('azure-iot-device-mqtt');
    const { NoRetry } = require('azure-iot-common');
    const { Registry } = require('azure-iothub');
    const registry = Registry.fromConnectionString(app.serviceConnectionString);
    const s = createSuite('audit_device_plane');

    const connectionString = async (id) => {
        const { responseBody: d } = await registry.create({ deviceId: id });
        return `HostName=${app.assignedHub};DeviceId=${id};SharedAccessKey=${d.authentication.symmetricKey.primaryKey}`;
    };

    s.test('model id from setOptions({modelId}) is recorded in the registry and the twin', async () => {
        const id = 'audit-model-1';
        const model = 'dtmi:com:example:TemperatureController;2';
        const client = Client.fromConnectionString(await connectionString(id), Mqtt);
        await client.setOptions({ modelId: model });
        await client.open();
        try {
            const { responseBody: twin } = await registry.getTwin(id);
            assert.equal(twin.modelId, model);
            const { responseBody: dev } = await registry.get(id);
            assert.equal(dev.modelId, model);
        } finally {
            await client.close().catch(() => {});
        }
    }, { timeout: 30000 }); // the first connection also loads the SDK's lazy modules

    s.test('a second connection of the same device drops the first', async () => {
        const cs = await connectionString('audit-dup-1');
        const first = Client.fromConnectionString(cs, Mqtt);
        first.setRetryPolicy(new NoRetry()); // otherwise the two clients would take turns
        let dropped = false;
        first.on('disconnect', () => { dropped = true; });
        first.on('error', () => {});
        await first.open();
        const second = Client.fromConnectionString(cs, Mqtt);
        second.on('error', () => {});
        try {
            await second.open();
            await waitFor(() => dropped, 5000, "the first client's disconnect event");
            const r = await second.sendEvent(new Message('{"still":"here"}'));
            assert.equal(r.constructor.name, 'MessageEnqueued');
            const { responseBody: d } = await registry.get('audit-dup-1');
            assert.equal(d.connectionState.toLowerCase(), 'connected');
        } finally {
            await second.close().catch(() => {});
            await first.close().catch(() => {});
        }
    }, { timeout: 20000 });

    return s.run();
});
