// Cross-check: SAS tokens and derived keys computed by the official Node SDKs
// (azure-iot-common, azure-iot-device, azure-iot-security-symmetric-key) equal the
// C core's byte for byte, and the C verifier accepts every SDK token.
// The table is random; its seed is printed and can be replayed with IOTC_SEED=<n>.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomInt } from 'node:crypto';
import path from 'node:path';

const require = createRequire(import.meta.url);
const common = require('azure-iot-common');
const authorization = require('azure-iot-common/dist/authorization.js');
const device = require('azure-iot-device');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');

const builddir = process.env.IOTC_BUILDDIR || 'build/release';
const sasvec = path.join(builddir, 'tests', 'sasvec');
const ROWS = Number(process.env.IOTC_ROWS || 300);
const seed = Number(process.env.IOTC_SEED || randomInt(1, 2 ** 31));
console.log(`seed ${seed}, ${ROWS} rows`);

// mulberry32: small, seedable, good enough to pick test inputs.
let state = seed >>> 0;
function rand() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (s) => s[Math.floor(rand() * s.length)];
const str = (alphabet, min, max) => {
    const n = min + Math.floor(rand() * (max - min + 1));
    let out = '';
    for (let i = 0; i < n; i++) out += pick(alphabet);
    return out;
};
const bytes = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
// Device ids: alphanumerics and - . % _ * ? ! ( ) , : = @ $ ' (identity registry rules).
const DEVICE_CHARS = ALNUM + "-.%_*?!(),:=@$'";
// Registration ids: alphanumerics and - . _ : (DPS rules), ending alphanumeric or '-'.
const REG_CHARS = ALNUM + '-._:';
const HEX = '0123456789ABCDEF';

const rows = [];
for (let i = 0; i < ROWS; i++) {
    rows.push({
        key: bytes(pick([16, 32, 64])).toString('base64'),
        groupKey: bytes(64).toString('base64'),
        host: `${str(ALNUM.toLowerCase(), 3, 20)}.azure-devices.net`,
        deviceId: str(DEVICE_CHARS, 1, 128),
        regId: str(REG_CHARS, 0, 100) + pick(ALNUM + '-'),
        scope: '0ne' + str(HEX, 8, 8),
        policy: pick(['iothubowner', 'service', 'registryReadWrite', 'device']),
        se: 1 + Math.floor(rand() * 4102444800),
    });
}

// What the SDKs compute.
for (const r of rows) {
    r.nodeHub = device.SharedAccessSignature.create(r.host, r.deviceId, r.key, r.se).toString();
    r.nodeSvc = common.SharedAccessSignature.create(r.host, r.policy, r.key, r.se).toString();
    r.nodeDerived = authorization.hmacHash(r.groupKey, r.regId);
    const sk = new SymmetricKeySecurityClient(r.regId, r.nodeDerived);
    r.nodeDps = await sk.createSharedAccessSignature(r.scope);
    r.nodeDps = r.nodeDps.toString();
    r.dpsSe = /[?&]?se=(\d+)/.exec(r.nodeDps.replace(/^SharedAccessSignature /, ''))[1];
}

// What the C core computes, one request per line.
const lines = [];
for (const r of rows) {
    lines.push(['hub', r.key, r.host, r.deviceId, r.se].join('\t'));
    lines.push(['svc', r.key, r.host, r.policy, r.se].join('\t'));
    lines.push(['derive', r.groupKey, r.regId].join('\t'));
    lines.push(['dps', 'node', r.nodeDerived, r.scope, r.regId, r.dpsSe].join('\t'));
    lines.push(['verify', r.nodeHub, r.key, r.se - 1].join('\t'));
    lines.push(['verify', r.nodeHub, r.key, r.se].join('\t'));
    lines.push(['verify', r.nodeDps, r.nodeDerived, Number(r.dpsSe) - 1].join('\t'));
    lines.push(['verify', r.nodeSvc, r.groupKey, r.se - 1].join('\t'));
}
const proc = spawnSync(sasvec, [], { input: lines.join('\n') + '\n', encoding: 'utf8' });
if (proc.status !== 0 || proc.error) {
    console.log(`sasvec failed: ${proc.error || proc.stderr}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
}
const out = proc.stdout.split('\n');

let passed = 0;
let failed = 0;
const check = (what, r, got, want) => {
    if (got === want) {
        passed++;
        return;
    }
    failed++;
    if (failed <= 10)
        console.log(`FAIL ${what} (seed ${seed}, device ${JSON.stringify(r.deviceId)}, reg ${JSON.stringify(r.regId)})\n  C:    ${got}\n  Node: ${want}`);
};
// Node's strict encoder writes '*' as lower-case %2a where the C core (like the C SDK) writes
// %2A; both are valid and the C verifier must accept Node's spelling (checked below), but the
// tokens cannot be byte-equal, so only ids without '*' are compared byte for byte.
let k = 0;
for (const r of rows) {
    const [hub, svc, derived, dps, vOk, vExpired, vDps, vWrongKey] = out.slice(k, k + 8);
    k += 8;
    if (!r.deviceId.includes('*')) check('hub token', r, hub, r.nodeHub);
    check('service token', r, svc, r.nodeSvc);
    check('derived key', r, derived, r.nodeDerived);
    check('DPS token (Node style)', r, dps, r.nodeDps);
    check('verify hub token before expiry', r, vOk, 'ok');
    check('verify hub token at expiry', r, vExpired.startsWith('error:') && /expir/i.test(vExpired), true);
    check('verify DPS token', r, vDps, 'ok');
    check('verify with wrong key', r, vWrongKey.startsWith('error:') && !/expir/i.test(vWrongKey), true);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
