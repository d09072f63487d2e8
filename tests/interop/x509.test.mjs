// X.509 devices with the unchanged official Node SDKs: certificates made by `iotc-central
// certs`; azure-iothub registers selfSigned and certificateAuthority devices (and reads them
// back as IoT Hub shows them); azure-iot-provisioning-device-mqtt with azure-iot-security-x509
// registers an individual enrollment; azure-iot-device-mqtt connects with the certificate and
// sends telemetry; a SAS device works beside them; refusals reach the SDK as errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { builddir, interopMain } from './lib/central.mjs';
import { createSuite } from './lib/harness.mjs';
import { rest } from './lib/rest.mjs';

const require = createRequire(import.meta.url);

await interopMain(import.meta.url, async (app) => {
    const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
    const { Mqtt: ProvMqtt } = require('azure-iot-provisioning-device-mqtt');
    const { X509Security } = require('azure-iot-security-x509');
    const { Client, Message } = require('azure-iot-device');
    const { Mqtt } = require('azure-iot-device-mqtt');
    const { Registry } = require('azure-iothub');
    const registry = Registry.fromConnectionString(app.serviceConnectionString);
    const s = createSuite('x509');
    const dir = path.join(app.dataDir, 'interop-certs');
    const bin = path.join(builddir(), 'iotc-central');

    /** `iotc-central certs ...`; returns its stdout (throws on failure). */
    function certs(...args) {
        const r = spawnSync(bin, ['certs', ...args], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`certs ${args.join(' ')}: ${r.stderr}${r.stdout}`);
        return r.stdout;
    }
    const read = (name) => fs.readFileSync(path.join(dir, name), 'utf8');
    const sha1Of = (pem) => new crypto.X509Certificate(pem).fingerprint.replace(/:/g, '');
    const sha256Of = (pem) => new crypto.X509Certificate(pem).fingerprint256.replace(/:/g, '');

    async function connectAndSend(hub, deviceId, cert, key) {
        const client = Client.fromConnectionString(`HostName=${hub};DeviceId=${deviceId};x509=true`, Mqtt);
        client.setOptions({ cert, key });
        try {
            await client.open();
            await client.sendEvent(new Message(JSON.stringify({ temperature: 20 })));
        } finally {
            await client.close().catch(() => {});
        }
    }

    s.test('azure-iothub registers a selfSigned device; it connects with either certificate', async () => {
        certs('device', '--id', 'node-ss-1', '--out', dir);
        certs('device', '--id', 'node-ss-1b', '--out', dir);
        const a = read('node-ss-1.pem');
        const b = read('node-ss-1b.pem');
        const { responseBody: d } = await registry.create({
            deviceId: 'node-ss-1',
            authentication: { x509Thumbprint: { primaryThumbprint: sha1Of(a), secondaryThumbprint: sha256Of(b) } },
        });
        assert.equal(d.authentication.type, 'selfSigned');
        assert.equal(d.authentication.x509Thumbprint.primaryThumbprint, sha1Of(a).toLowerCase());
        assert.equal(d.authentication.symmetricKey.primaryKey, null);
        await connectAndSend(app.assignedHub, 'node-ss-1', a, read('node-ss-1-key.pem'));
        await connectAndSend(app.assignedHub, 'node-ss-1', b, read('node-ss-1b-key.pem'));
    }, { timeout: 20000 });

    s.test('an unknown certificate is refused; a SAS device works beside', async () => {
        certs('device', '--id', 'node-ss-2', '--out', dir);
        certs('device', '--id', 'node-other', '--out', dir);
        await registry.create({ deviceId: 'node-ss-2',
            authentication: { x509Thumbprint: { primaryThumbprint: sha1Of(read('node-ss-2.pem')) } } });
        await assert.rejects(connectAndSend(app.assignedHub, 'node-ss-2', read('node-other.pem'),
            read('node-other-key.pem')));
        const { responseBody: sas } = await registry.create({ deviceId: 'node-sas-1' });
        const cs = `HostName=${app.assignedHub};DeviceId=node-sas-1;SharedAccessKey=${sas.authentication.symmetricKey.primaryKey}`;
        const client = Client.fromConnectionString(cs, Mqtt);
        await client.open();
        await client.sendEvent(new Message('{"t":1}'));
        await client.close();
    }, { timeout: 20000 });

    s.test('DPS individual enrollment with X509Security, then the hub with the same certificate', async () => {
        certs('device', '--id', 'node-dps-1', '--out', dir);
        const cert = read('node-dps-1.pem');
        const key = read('node-dps-1-key.pem');
        await registry.create({ deviceId: 'node-dps-1',
            authentication: { x509Thumbprint: { primaryThumbprint: sha1Of(cert) } } });
        const security = new X509Security('node-dps-1', { cert, key });
        const prov = ProvisioningDeviceClient.create(app.dpsHost, app.idScope, new ProvMqtt(), security);
        const result = await prov.register();
        assert.equal(result.status, 'assigned');
        assert.equal(result.deviceId, 'node-dps-1');
        assert.equal(result.assignedHub, app.assignedHub);
        await connectAndSend(result.assignedHub, result.deviceId, cert, key);
    }, { timeout: 20000 });

    s.test('certificateAuthority: CA uploaded, proven, then a device signed by it connects', async () => {
        certs('root', '--out', path.join(dir, 'root'));
        certs('device', '--ca', path.join(dir, 'root'), '--id', 'node-ca-1', '--out', dir);
        const { responseBody: d } = await registry.create({ deviceId: 'node-ca-1',
            authentication: { type: 'certificateAuthority' } });
        assert.equal(d.authentication.type, 'certificateAuthority');
        const cert = read('node-ca-1.pem');
        const key = read('node-ca-1-key.pem');
        // base64 DER, as the az CLI may send it
        const der = new crypto.X509Certificate(read('root/root.pem')).raw.toString('base64');
        let r = await rest(app, 'PUT', '/certificates/node-root?api-version=2021-04-12',
            { body: { properties: { certificate: der } } });
        assert.equal(r.status, 200);
        await assert.rejects(connectAndSend(app.assignedHub, 'node-ca-1', cert, key));
        r = await rest(app, 'POST', '/certificates/node-root/generateVerificationCode?api-version=2021-04-12');
        assert.equal(r.status, 200);
        const code = r.json.properties.verificationCode;
        certs('verify-code', '--ca', path.join(dir, 'root'), '--code', code, '--out', path.join(dir, 'proof'));
        r = await rest(app, 'POST', '/certificates/node-root/verify?api-version=2021-04-12',
            { body: { certificate: read('proof/verification.pem') } });
        assert.equal(r.status, 200);
        assert.equal(r.json.properties.isVerified, true);
        await connectAndSend(app.assignedHub, 'node-ca-1', cert, key);
    }, { timeout: 20000 });

    s.test('DPS X.509 enrollment group: CA on the group, proven, then X509Security registers a new device', async () => {
        const admin = fs.readFileSync(path.join(app.dataDir, 'admin-token'), 'utf8').split('\n')[0];
        const capi = (method, p, body) => rest(app, method, `${p}?api-version=2022-07-31`,
            { token: admin, body });
        const grp = '/api/enrollmentGroups/node-x509';
        certs('root', '--out', path.join(dir, 'groot'));
        certs('device', '--ca', path.join(dir, 'groot'), '--id', 'node-grp-1', '--out', dir);
        const cert = read('node-grp-1.pem');
        const key = read('node-grp-1-key.pem');
        let r = await capi('PUT', grp, { displayName: 'Node X.509', type: 'iot', attestation: { type: 'x509' } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.attestation.type, 'x509');
        r = await capi('PUT', `${grp}/certificates/primary`, { certificate: read('groot/root.pem') });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.verified, false);
        assert.equal(r.json.info.sha1Thumbprint, sha1Of(read('groot/root.pem')).toLowerCase());
        const register = (id) => ProvisioningDeviceClient.create(app.dpsHost, app.idScope, new ProvMqtt(),
            new X509Security(id, { cert, key })).register();
        await assert.rejects(register('node-grp-1')); // the CA is not verified yet
        r = await capi('POST', `${grp}/certificates/primary/generateVerificationCode`);
        assert.equal(r.status, 200, r.text);
        certs('verify-code', '--ca', path.join(dir, 'groot'), '--code', r.json.verificationCode,
            '--out', path.join(dir, 'gproof'));
        r = await capi('POST', `${grp}/certificates/primary/verify`, { certificate: read('gproof/verification.pem') });
        assert.equal(r.status, 204, r.text);
        r = await capi('GET', grp);
        assert.equal(r.json.attestation.x509.signingCertificates.primary.verified, true);
        const result = await register('node-grp-1');
        assert.equal(result.status, 'assigned');
        assert.equal(result.deviceId, 'node-grp-1');
        assert.equal(result.assignedHub, app.assignedHub);
        await connectAndSend(result.assignedHub, result.deviceId, cert, key);
    }, { timeout: 30000 });

    return s.run();
});
