// Runs one interop test file against a private iotc-central.
//
// NODE_EXTRA_CA_CERTS is only read when a Node process starts, and the server's CA exists only
// after the server has initialised its data dir. So the test file runs twice: the first
// process (the "parent") starts `iotc-central serve` on loopback with free ports, waits for
// DATA_DIR/ports.json, then re-runs the same file as a child with NODE_EXTRA_CA_CERTS set,
// the app facts in IOTC_INTEROP_APP and the host:port preload (hostport.mjs); the child runs
// the tests. The parent relays the output, enforces the time budget, stops the server and
// makes sure exactly one "N passed, N failed" line ends the output.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FILE_BUDGET_MS = Number(process.env.IOTC_INTEROP_BUDGET_MS || 55000);
const SUMMARY = /^[0-9]+ passed, [0-9]+ failed$/;

export function builddir() {
    const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const b = process.env.IOTC_BUILDDIR || path.join(top, 'build', 'release');
    return path.resolve(top, b);
}

function readPorts(file) {
    let j;
    try {
        j = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
        return null; // absent or still being written
    }
    const mqtt = j.mqtts; // "mqtt" is the plain-TCP port (0 = off)
    const https = j.https;
    return mqtt && https ? { mqtt: Number(mqtt), https: Number(https), wss: Number(j.wss || 0) } : null;
}

/** Free loopback ports, and never the host's 443 (as root, --wss-port auto would take it). */
const DEFAULT_SERVE_ARGS = ['--mqtt-port', '0', '--https-port', '0', '--wss-port', 'off', '--bind', '127.0.0.1'];

/**
 * Start iotc-central; resolves with {facts, stop(), log(), cleanup()} once its ports are known.
 * @p serveArgs replaces DEFAULT_SERVE_ARGS (a test in a network namespace of its own may take
 * the default ports).
 */
export async function startCentral(serveArgs = DEFAULT_SERVE_ARGS) {
    const bin = path.join(builddir(), 'iotc-central');
    if (!fs.existsSync(bin)) throw new Error(`${bin} not found (set IOTC_BUILDDIR)`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotc-interop-'));
    const logFile = path.join(dir, 'central.log');
    const logFd = fs.openSync(logFile, 'w');
    const args = ['serve', '--data-dir', dir, ...serveArgs];
    const proc = spawn(bin, args, { stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    let exited = null;
    proc.on('exit', (code, sig) => { exited = { code, sig }; });

    const log = () => { try { return fs.readFileSync(logFile, 'utf8'); } catch { return ''; } };
    const stop = async () => {
        if (exited === null) {
            proc.kill('SIGTERM');
            const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
            await new Promise((r) => (exited !== null ? r() : proc.once('exit', r)));
            clearTimeout(t);
        }
        return exited;
    };
    const cleanup = () => {
        if (!process.env.IOTC_KEEP_DATA) fs.rmSync(dir, { recursive: true, force: true });
    };

    const end = Date.now() + 15000;
    let ports = null;
    while (!(ports = readPorts(path.join(dir, 'ports.json')))) {
        if (exited !== null || Date.now() > end) {
            const why = exited !== null ? `exited (${exited.code ?? exited.sig})` : 'no ports.json';
            const text = log();
            await stop();
            cleanup();
            throw new Error(`iotc-central ${why}:\n${text}`);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    const show = spawnSync(bin, ['show', '--data-dir', dir, '--json'], { encoding: 'utf8' });
    let shown;
    try {
        shown = JSON.parse(show.stdout);
    } catch {
        await stop();
        cleanup();
        throw new Error(`iotc-central show --json failed: ${show.stderr}${show.stdout}`);
    }
    const svcKey = /SharedAccessKey=([^;]+)/.exec(shown.serviceConnectionString)[1];
    const policy = /SharedAccessKeyName=([^;]+)/.exec(shown.serviceConnectionString)[1];
    const hubHost = shown.hubHost || 'localhost';
    const facts = {
        dataDir: dir,
        caFile: shown.caFile || path.join(dir, 'ca.pem'),
        idScope: shown.idScope,
        groupId: shown.enrollmentGroup.id,
        groupKey: shown.enrollmentGroup.primaryKey,
        groupSecondaryKey: shown.enrollmentGroup.secondaryKey,
        hubHost,
        mqttPort: ports.mqtt,
        httpsPort: ports.https,
        wssPort: ports.wss, // the HTTPS listener's second port (--wss-port), 0 = none
        dpsHost: `${hubHost}:${ports.mqtt}`,
        assignedHub: shown.assignedHub,
        serviceHost: `${hubHost}:${ports.https}`,
        servicePolicy: policy,
        serviceKey: svcKey,
        serviceConnectionString:
            `HostName=${hubHost}:${ports.https};SharedAccessKeyName=${policy};SharedAccessKey=${svcKey}`,
    };
    return { facts, stop, log, cleanup };
}

/**
 * Entry point of every interop test file: `await interopMain(import.meta.url, async (app) => ...)`.
 * In the child, calls body(app) which must run the suite and return true when all passed.
 * @p opts.serveArgs: the server's options instead of the free-port defaults.
 */
export async function interopMain(fileUrl, body, opts = {}) {
    if (process.env.IOTC_INTEROP_APP) {
        let ok = false;
        try {
            ok = await body(JSON.parse(process.env.IOTC_INTEROP_APP));
        } catch (err) {
            console.log(`suite crashed: ${err && err.stack ? err.stack : err}`);
            console.log('0 passed, 1 failed');
        }
        process.exit(ok ? 0 : 1); // SDK clients may leave handles open; do not wait for them
    }

    let central;
    try {
        central = await startCentral(opts.serveArgs);
    } catch (err) {
        console.log(`cannot start iotc-central: ${err.message}`);
        console.log('0 passed, 1 failed');
        process.exit(1);
    }
    // If the runner stops us (timeout sends SIGTERM), take the server and the child along
    // instead of leaving them orphaned.
    let child = null;
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
        process.once(sig, async () => {
            if (child) child.kill('SIGKILL');
            await central.stop();
            central.cleanup();
            console.log(`interrupted by ${sig}`);
            console.log('0 passed, 1 failed');
            process.exit(1);
        });
    }
    const hostport = new URL('./hostport.mjs', import.meta.url).href;
    child = spawn(process.execPath, ['--import', hostport, fileURLToPath(fileUrl)], {
        env: {
            ...process.env,
            NODE_EXTRA_CA_CERTS: central.facts.caFile,
            IOTC_INTEROP_APP: JSON.stringify(central.facts),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let summary = null;
    let pending = '';
    const relay = (chunk) => {
        pending += chunk;
        let i;
        while ((i = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, i);
            pending = pending.slice(i + 1);
            if (SUMMARY.test(line)) summary = line; // printed last, below
            else process.stdout.write(`${line}\n`);
        }
    };
    child.stdout.setEncoding('utf8').on('data', relay);
    child.stderr.setEncoding('utf8').on('data', (d) => process.stderr.write(d));
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, FILE_BUDGET_MS);
    const code = await new Promise((r) => child.on('exit', (c) => r(c ?? 1)));
    clearTimeout(timer);
    if (pending) relay('\n');
    const exit = await central.stop();
    const serverLog = central.log();
    central.cleanup();
    const serverCrashed = exit && exit.sig && exit.sig !== 'SIGTERM';
    let [passed, failed] = summary ? summary.split(/ passed, | failed/).map(Number) : [0, 0];
    if (timedOut) {
        console.log(`not ok - the file exceeded its ${FILE_BUDGET_MS} ms budget`);
        failed++;
    } else if (!summary || (code !== 0 && failed === 0)) {
        console.log(`not ok - the test process exited with ${code} without a clean summary`);
        failed++;
    }
    if (serverCrashed || (exit && exit.code !== 0 && exit.code !== null)) {
        console.log(`not ok - iotc-central ended badly (${exit.code ?? exit.sig})`);
        failed++;
    }
    if (failed > 0 || process.env.IOTC_INTEROP_VERBOSE) {
        const tail = serverLog.split('\n').slice(-60).join('\n    ');
        console.log(`iotc-central log (last lines):\n    ${tail}`);
    }
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed > 0 ? 1 : 0);
}
