// The official Node device SDK doing what examples/environmental_sensor does in the device-side
// benchmark: provision through DPS with a group-derived key (azure-iot-provisioning-device-mqtt +
// azure-iot-security-symmetric-key), connect to the assigned hub (azure-iot-device-mqtt), send
// COUNT telemetry messages at QoS 1 with at most WINDOW unacknowledged, then exit. Prints one JSON
// line: time from process start to the first acknowledged message, counts, CPU and peak RSS.
//
//   NODE_EXTRA_CA_CERTS=ca.pem node bench/node_device.mjs --scope 0ne.. --dps localhost:8883 \
//       --group-key KEY --id dev1 --count 10000 [--window 16]
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Mqtt: ProvMqtt } = require('azure-iot-provisioning-device-mqtt');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
const { Client, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

function args() {
    const o = { count: 1, window: 16 };
    const a = process.argv.slice(2);
    for (let i = 0; i + 1 < a.length; i += 2) o[a[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase())] = a[i + 1];
    o.count = Number(o.count);
    o.window = Number(o.window);
    return o;
}

const opt = args();
const key = opt.deviceKey ?? crypto.createHmac('sha256', Buffer.from(opt.groupKey, 'base64'))
    .update(opt.id, 'utf8').digest('base64');

const security = new SymmetricKeySecurityClient(opt.id, key);
const prov = ProvisioningDeviceClient.create(opt.dps, opt.scope, new ProvMqtt(), security);
const reg = await prov.register();
const registeredMs = performance.now();
const cs = `HostName=${reg.assignedHub};DeviceId=${reg.deviceId};SharedAccessKey=${key}`;
const client = Client.fromConnectionString(cs, Mqtt);
await client.open();
const openedMs = performance.now();

let sent = 0, acked = 0, firstAckMs = -1;
const started = performance.now();
await new Promise((resolve, reject) => {
    const pump = () => {
        while (sent < opt.count && sent - acked < opt.window) {
            const n = sent++;
            const msg = new Message(JSON.stringify({ temp: 1 + (n % 74), humid: 30 + (n % 69) }));
            msg.contentType = 'application/json';
            msg.contentEncoding = 'utf-8';
            client.sendEvent(msg).then(() => {
                acked++;
                if (firstAckMs < 0) firstAckMs = performance.now();
                if (acked === opt.count) resolve();
                else pump();
            }, reject);
        }
    };
    pump();
});
const elapsed = (performance.now() - started) / 1000;
await client.close();
const ru = process.resourceUsage();
console.log(JSON.stringify({
    first_ack_ms: Math.round(firstAckMs), // performance.now() counts from process start
    registered_ms: Math.round(registeredMs), connected_ms: Math.round(openedMs),
    sent, acked, send_seconds: Number(elapsed.toFixed(3)),
    cpu_s: Number(((ru.userCPUTime + ru.systemCPUTime) / 1e6).toFixed(3)),
    max_rss_kb: ru.maxRSS,
}));
process.exit(0);
