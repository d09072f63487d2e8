// Create device identities ahead of a run, through the IoT Hub service API's bulk import
// (POST /devices, 100 per request, as Registry.addDevices sends it), so that a connect storm
// does not go through DPS. Each device gets the key DPS would derive for it from the
// application's enrollment group (HMAC-SHA256 of the id under the group key), which is what
// iotc-sim --app ... --hub derives too.
//
//   node bench/precreate.mjs APP_JSON COUNT [PREFIX] [START]     (PREFIX sim-, START 0)
//
// APP_JSON is `iotc-central show --json`. Prints one JSON line: {created, seconds, per_s}.
// Exits 1 if any request fails.
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

const [appFile, countArg, prefix = 'sim-', startArg = '0'] = process.argv.slice(2);
const count = Number(countArg), start = Number(startArg);
if (!appFile || !(count > 0) || !(start >= 0)) {
    console.error('usage: node bench/precreate.mjs APP_JSON COUNT [PREFIX] [START]');
    process.exit(2);
}
const app = JSON.parse(fs.readFileSync(appFile, 'utf8'));
const cs = Object.fromEntries(app.serviceConnectionString.split(';').map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)];
}));
const groupKey = Buffer.from(app.enrollmentGroup.primaryKey, 'base64');
const deviceKey = (id) => crypto.createHmac('sha256', groupKey).update(id).digest('base64');

function serviceSas() {
    const se = Math.floor(Date.now() / 1000) + 3600;
    const sr = encodeURIComponent(cs.HostName);
    const sig = crypto.createHmac('sha256', Buffer.from(cs.SharedAccessKey, 'base64'))
        .update(`${sr}\n${se}`).digest('base64');
    return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${cs.SharedAccessKeyName}`;
}

const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
const ca = fs.readFileSync(app.caFile);
const token = serviceSas();

function post(body) {
    return new Promise((resolve, reject) => {
        const req = https.request({
            host: '127.0.0.1', servername: app.hubHost, port: app.httpsPort, method: 'POST',
            path: '/devices?api-version=2021-04-12', agent, ca,
            headers: { Authorization: token, 'Content-Type': 'application/json; charset=utf-8',
                'Content-Length': Buffer.byteLength(body) },
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => (res.statusCode === 200 ? resolve()
                : reject(new Error(`POST /devices: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`))));
        });
        req.on('error', reject);
        req.end(body);
    });
}

const t0 = process.hrtime.bigint();
let next = 0;
async function worker() {
    while (next < count) {
        const first = next;
        next = Math.min(count, next + 100);
        const batch = [];
        for (let i = first; i < next; i++) {
            const id = `${prefix}${start + i}`;
            const k = deviceKey(id);
            batch.push({ id, importMode: 'createOrUpdate', status: 'enabled',
                authentication: { type: 'sas', symmetricKey: { primaryKey: k, secondaryKey: k } } });
        }
        await post(JSON.stringify(batch));
    }
}
try {
    await Promise.all([worker(), worker(), worker(), worker()]);
} catch (e) {
    console.error(`precreate: ${e.message}`);
    process.exit(1);
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
agent.destroy();
console.log(JSON.stringify({ created: count, seconds: +s.toFixed(3), per_s: Math.round(count / s) }));
