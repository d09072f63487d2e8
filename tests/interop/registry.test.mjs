// The official service SDK (azure-iothub, unchanged) drives iotc-central's IoT Hub service
// REST API: registry create/get/list/update/delete, twins, method errors; plus raw HTTPS
// checks of authentication, error shapes and request validation.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { interopMain } from './lib/central.mjs';
import { createSuite } from './lib/harness.mjs';
import { hubError, rest, serviceToken } from './lib/rest.mjs';

const require = createRequire(import.meta.url);

async function rejectsWith(promise, name, status) {
    try {
        await promise;
    } catch (err) {
        assert.equal(err.name, name, `${err.name}: ${err.message}`);
        if (status) assert.equal(err.response && err.response.statusCode, status);
        return err;
    }
    throw new Error(`expected ${name}, got success`);
}

const isKey = (k) => typeof k === 'string' && Buffer.from(k, 'base64').length >= 16 &&
    Buffer.from(k, 'base64').toString('base64') === k;

await interopMain(import.meta.url, async (app) => {
    const { Registry, Client } = require('azure-iothub');
    const registry = Registry.fromConnectionString(app.serviceConnectionString);
    const client = Client.fromConnectionString(app.serviceConnectionString);
    const s = createSuite('registry');
    const keyA = Buffer.alloc(32, 7).toString('base64');
    const keyB = Buffer.alloc(32, 9).toString('base64');

    s.test('create generates keys when none are given', async () => {
        const { responseBody: d, httpResponse } = await registry.create({ deviceId: 'reg-gen' });
        assert.equal(httpResponse.statusCode, 200);
        assert.match(httpResponse.headers['content-type'], /^application\/json; charset=utf-8$/);
        assert.equal(d.deviceId, 'reg-gen');
        assert.equal(d.status, 'enabled');
        assert.equal(d.authentication.type, 'sas');
        assert.ok(isKey(d.authentication.symmetricKey.primaryKey));
        assert.ok(isKey(d.authentication.symmetricKey.secondaryKey));
        assert.notEqual(d.authentication.symmetricKey.primaryKey, d.authentication.symmetricKey.secondaryKey);
        assert.equal(typeof d.etag, 'string');
    });

    s.test('create keeps given keys; id with special characters', async () => {
        const id = "reg-given:(1)*'!";
        const { responseBody: d } = await registry.create({
            deviceId: id, status: 'disabled',
            authentication: { symmetricKey: { primaryKey: keyA, secondaryKey: keyB } },
        });
        assert.equal(d.deviceId, id);
        assert.equal(d.status, 'disabled');
        assert.equal(d.authentication.symmetricKey.primaryKey, keyA);
        assert.equal(d.authentication.symmetricKey.secondaryKey, keyB);
        const { responseBody: g } = await registry.get(id);
        assert.equal(g.authentication.symmetricKey.primaryKey, keyA);
    });

    s.test('create of an existing id fails with DeviceAlreadyExistsError (409)', async () => {
        await rejectsWith(registry.create({ deviceId: 'reg-gen' }), 'DeviceAlreadyExistsError', 409);
    });

    s.test('create with an invalid id or key fails with ArgumentError (400)', async () => {
        await rejectsWith(registry.create({ deviceId: 'bad#id' }), 'ArgumentError', 400);
        await rejectsWith(registry.create({
            deviceId: 'reg-badkey', authentication: { symmetricKey: { primaryKey: 'c2hvcnQ=' } },
        }), 'ArgumentError', 400);
        await rejectsWith(registry.get('reg-badkey'), 'DeviceNotFoundError', 404);
    });

    s.test('get returns the device; unknown id is DeviceNotFoundError (404)', async () => {
        const { responseBody: d } = await registry.get('reg-gen');
        assert.equal(d.deviceId, 'reg-gen');
        assert.equal(d.connectionState.toLowerCase(), 'disconnected');
        await rejectsWith(registry.get('reg-nobody'), 'DeviceNotFoundError', 404);
    });

    s.test('list (GET /devices/) returns every device', async () => {
        const { responseBody: list } = await registry.list();
        assert.ok(Array.isArray(list));
        const ids = list.map((d) => d.deviceId).sort();
        assert.deepEqual(ids, ["reg-gen", "reg-given:(1)*'!"].sort());
    });

    s.test('update (If-Match "*") changes status and keeps keys', async () => {
        const { responseBody: before } = await registry.get('reg-gen');
        const { responseBody: after } = await registry.update({ deviceId: 'reg-gen', status: 'disabled' });
        assert.equal(after.status, 'disabled');
        assert.equal(after.authentication.symmetricKey.primaryKey,
            before.authentication.symmetricKey.primaryKey);
        assert.notEqual(after.etag, before.etag);
        const { responseBody: again } = await registry.update({ ...after, status: 'enabled' });
        assert.equal(again.status, 'enabled');
        await rejectsWith(registry.update({ deviceId: 'reg-nobody' }), 'DeviceNotFoundError', 404);
    });

    s.test('getTwin has deviceId, etag and versioned desired/reported', async () => {
        const { responseBody: twin } = await registry.getTwin('reg-gen');
        assert.equal(twin.deviceId, 'reg-gen');
        assert.equal(typeof twin.etag, 'string');
        assert.equal(typeof twin.properties.desired.$version, 'number');
        assert.equal(typeof twin.properties.reported.$version, 'number');
        await rejectsWith(registry.getTwin('reg-nobody'), 'DeviceNotFoundError', 404);
    });

    s.test('updateTwin merges desired and tags; a stale etag is InvalidEtagError (412)', async () => {
        const { responseBody: t0 } = await registry.getTwin('reg-gen');
        const v0 = t0.properties.desired.$version;
        const { responseBody: t1 } = await registry.updateTwin('reg-gen', {
            tags: { site: 'lab' }, properties: { desired: { fan: { speed: 3 }, mode: 'eco' } },
        }, t0.etag);
        assert.equal(t1.deviceId, 'reg-gen');
        assert.equal(t1.tags.site, 'lab');
        assert.deepEqual(t1.properties.desired.fan, { speed: 3 });
        assert.equal(t1.properties.desired.mode, 'eco');
        assert.equal(t1.properties.desired.$version, v0 + 1);
        assert.notEqual(t1.etag, t0.etag);
        await rejectsWith(registry.updateTwin('reg-gen', { properties: { desired: { mode: 'x' } } }, t0.etag),
            'InvalidEtagError', 412);
        // Twin object API: get, update with '*'-less etag it tracks itself, null deletes.
        const { responseBody: twin } = await registry.getTwin('reg-gen');
        await twin.update({ properties: { desired: { mode: null } } });
        const { responseBody: t2 } = await registry.getTwin('reg-gen');
        assert.equal(t2.properties.desired.mode, undefined);
        assert.deepEqual(t2.properties.desired.fan, { speed: 3 });
    });

    s.test('createQuery: SELECT * ... WHERE, paging with continuation, COUNT()', async () => {
        let q = registry.createQuery("SELECT * FROM devices WHERE tags.site = 'lab' AND status = 'enabled'");
        let { result } = await q.nextAsTwin();
        assert.deepEqual(result.map((t) => t.deviceId), ['reg-gen']);
        assert.equal(result[0].properties.desired.fan.speed, 3);
        assert.equal(q.hasMoreResults, false);
        q = registry.createQuery('SELECT * FROM devices WHERE properties.desired.fan.speed >= 3 OR status = "disabled"');
        ({ result } = await q.next());
        assert.equal(result.length, 2);
        q = registry.createQuery('SELECT * FROM devices WHERE NOT IS_DEFINED(tags.site)');
        ({ result } = await q.next());
        assert.deepEqual(result.map((t) => t.deviceId), ["reg-given:(1)*'!"]);
        // Paging: one twin per page; the SDK follows x-ms-continuation.
        q = registry.createQuery('SELECT * FROM devices', 1);
        const seen = [];
        while (q.hasMoreResults) {
            ({ result } = await q.nextAsTwin());
            assert.ok(result.length <= 1);
            seen.push(...result.map((t) => t.deviceId));
        }
        assert.deepEqual(seen.sort(), ["reg-gen", "reg-given:(1)*'!"].sort());
        q = registry.createQuery('select count() as numberOfDevices from devices where status = \'enabled\'');
        ({ result } = await q.next());
        assert.deepEqual(result, [{ numberOfDevices: 1 }]);
        await rejectsWith(registry.createQuery('SELECT deviceId FROM devices.modules').next(), 'ArgumentError', 400);
        await rejectsWith(registry.createQuery("SELECT * FROM devices WHERE tags.x = 'open").next(),
            'ArgumentError', 400);
    });

    s.test('invokeDeviceMethod: unknown device 404 DeviceNotFound; offline device 404103', async () => {
        await rejectsWith(client.invokeDeviceMethod('reg-nobody', { methodName: 'm' }), 'DeviceNotFoundError', 404);
        const err = await rejectsWith(client.invokeDeviceMethod('reg-gen', { methodName: 'reboot', payload: { a: 1 } }),
            'Error', 404);
        assert.equal(err.response.headers['iothub-errorcode'], 'DeviceNotOnline');
        const inner = JSON.parse(JSON.parse(err.responseBody).Message);
        assert.equal(inner.errorCode, 404103);
        assert.equal(inner.message, 'Timed out waiting for device to connect.');
    });

    s.test('getRegistryStatistics counts devices', async () => {
        const { responseBody: st } = await registry.getRegistryStatistics();
        assert.equal(st.totalDeviceCount, 2);
        assert.equal(st.enabledDeviceCount, 1);
        assert.equal(st.disabledDeviceCount, 1);
    });

    s.test('delete (If-Match "*") returns 204; the device is gone', async () => {
        const { httpResponse } = await registry.delete('reg-gen');
        assert.equal(httpResponse.statusCode, 204);
        await rejectsWith(registry.get('reg-gen'), 'DeviceNotFoundError', 404);
        await rejectsWith(registry.delete('reg-gen'), 'DeviceNotFoundError', 404);
        const { responseBody: list } = await registry.list();
        assert.deepEqual(list.map((d) => d.deviceId), ["reg-given:(1)*'!"]);
    });

    s.test('bulk: addDevices / updateDevices / removeDevices (POST /devices)', async () => {
        let r = await registry.addDevices([{ deviceId: 'bulk-1' }, { deviceId: 'bulk-2', status: 'disabled' }]);
        assert.equal(r.responseBody.isSuccessful, true);
        assert.deepEqual(r.responseBody.errors, []);
        assert.equal((await registry.get('bulk-2')).responseBody.status, 'disabled');
        // One entry fails (exists), the other is still applied.
        const err = await rejectsWith(registry.addDevices([{ deviceId: 'bulk-1' }, { deviceId: 'bulk-3' }]),
            'ArgumentError', 400);
        const body = JSON.parse(err.responseBody);
        assert.equal(body.isSuccessful, false);
        assert.deepEqual(body.errors.map((e) => [e.deviceId, e.errorCode]), [['bulk-1', 'DeviceAlreadyExists']]);
        assert.equal((await registry.get('bulk-3')).responseBody.deviceId, 'bulk-3');
        // updateDevices(force=false) compares etags; force=true does not.
        const { responseBody: b2 } = await registry.get('bulk-2');
        await rejectsWith(registry.updateDevices([{ ...b2, status: 'enabled', etag: 'stale' }], false), 'ArgumentError', 400);
        r = await registry.updateDevices([{ ...b2, status: 'enabled' }], false);
        assert.equal(r.responseBody.isSuccessful, true);
        assert.equal((await registry.get('bulk-2')).responseBody.status, 'enabled');
        r = await registry.updateDevices([{ deviceId: 'bulk-3', status: 'disabled' }], true);
        assert.equal(r.responseBody.isSuccessful, true);
        r = await registry.removeDevices([{ deviceId: 'bulk-1' }, { deviceId: 'bulk-2' }, { deviceId: 'bulk-3' }], true);
        assert.equal(r.responseBody.isSuccessful, true);
        const { responseBody: list } = await registry.list();
        assert.deepEqual(list.filter((d) => d.deviceId.startsWith('bulk-')), []);
        hubError(await rest(app, 'POST', '/devices', { body: [] }), 400, 'ArgumentInvalid');
    });

    s.test('raw: GET /devices without slash, ?top=, etag checks on delete', async () => {
        await rest(app, 'PUT', '/devices/raw-1?api-version=2021-04-12', { body: { deviceId: 'raw-1' } });
        let r = await rest(app, 'GET', '/devices?api-version=2021-04-12');
        assert.equal(r.status, 200);
        assert.equal(r.json.length, 2);
        r = await rest(app, 'GET', '/devices/?top=1&api-version=2020-09-30');
        assert.equal(r.json.length, 1);
        hubError(await rest(app, 'GET', '/devices?top=0'), 400, 'ArgumentInvalid');
        r = await rest(app, 'GET', '/devices/raw-1');
        const etag = r.json.etag;
        assert.equal(r.headers.etag, `"${etag}"`);
        hubError(await rest(app, 'DELETE', '/devices/raw-1', { headers: { 'If-Match': '"nope"' } }),
            412, 'PreconditionFailed');
        r = await rest(app, 'DELETE', '/devices/raw-1', { headers: { 'If-Match': `"${etag}"` } });
        assert.equal(r.status, 204);
    });

    s.test('raw: authentication failures are 401 IotHubUnauthorizedAccess', async () => {
        const bad = [
            false,
            'Bearer abc',
            serviceToken(app, { key: Buffer.alloc(32, 1).toString('base64') }),
            serviceToken(app, { se: Math.floor(Date.now() / 1000) - 10 }),
            serviceToken(app, { host: 'otherhub.azure-devices.net' }),
            serviceToken(app, { policy: 'registryRead' }),
            serviceToken(app).replace(/&skn=[^&]*/, ''),
        ];
        for (const token of bad) {
            const r = await rest(app, 'GET', '/devices/', { token });
            const body = hubError(r, 401, 'IotHubUnauthorizedAccess');
            assert.match(body.Message, /^ErrorCode:IotHubUnauthorizedAccess;/);
        }
        // The hub host without port also names the hub.
        const r = await rest(app, 'GET', '/devices/', { token: serviceToken(app, { host: app.hubHost }) });
        assert.equal(r.status, 200);
    });

    s.test('raw: validation errors (JSON, id mismatch, route, method, size)', async () => {
        hubError(await rest(app, 'PUT', '/devices/raw-2', { body: '{"deviceId":' ,
            headers: { 'Content-Type': 'application/json' } }), 400, 'ArgumentInvalid');
        hubError(await rest(app, 'PUT', '/devices/raw-2', { body: { deviceId: 'other' } }), 400, 'ArgumentInvalid');
        hubError(await rest(app, 'PUT', '/devices/raw-2', { body: { deviceId: 'raw-2', status: 'paused' } }),
            400, 'ArgumentInvalid');
        hubError(await rest(app, 'PUT', '/devices/raw-2', {
            body: { deviceId: 'raw-2', authentication: { type: 'selfSigned' } } }), 400, 'ArgumentInvalid');
        hubError(await rest(app, 'PUT', '/devices/raw-2', { body: '[1,2]',
            headers: { 'Content-Type': 'application/json' } }), 400, 'ArgumentInvalid');
        hubError(await rest(app, 'GET', '/nothing/here'), 404, 'NotFound');
        hubError(await rest(app, 'POST', '/devices/raw-2', { body: {} }), 405, 'MethodNotAllowed');
        hubError(await rest(app, 'PATCH', "/twins/reg-given%3A(1)*'!", { body: { properties: { reported: { x: 1 } } } }),
            400, 'ArgumentInvalid');
        hubError(await rest(app, 'PATCH', "/twins/reg-given%3A(1)*'!", { body: { properties: { desired: 5 } } }),
            400, 'ArgumentInvalid');
        hubError(await rest(app, 'POST', "/twins/reg-given%3A(1)*'!/methods", { body: { payload: 1 } }),
            400, 'ArgumentInvalid');
        hubError(await rest(app, 'POST', "/twins/reg-given%3A(1)*'!/methods",
            { body: { methodName: 'm', responseTimeoutInSeconds: 301 } }), 400, 'ArgumentInvalid');
        const big = await rest(app, 'PUT', '/devices/raw-2', { body: 'x'.repeat(1024 * 1024 + 1),
            headers: { 'Content-Type': 'application/json' } });
        assert.equal(big.status, 413);
        // The server is still fine afterwards.
        const r = await rest(app, 'GET', "/devices/reg-given%3A(1)*'!");
        assert.equal(r.status, 200);
    });

    s.test('raw: PUT /twins replaces desired and tags', async () => {
        const id = "reg-given%3A(1)*'!";
        await rest(app, 'PATCH', `/twins/${id}`, { body: { tags: { a: 1 }, properties: { desired: { p: 1, q: 2 } } } });
        const r = await rest(app, 'PUT', `/twins/${id}`, { body: { properties: { desired: { q: 3 } } },
            headers: { 'If-Match': '*' } });
        assert.equal(r.status, 200);
        assert.equal(r.json.properties.desired.p, undefined);
        assert.equal(r.json.properties.desired.q, 3);
        assert.deepEqual(r.json.tags, {});
    });

    return s.run();
});
