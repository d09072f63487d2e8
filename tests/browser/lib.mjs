// Shared by the browser tests: a private iotc-central on loopback (free ports, temp data dir),
// headless Chromium (Debian's, through playwright-core) with a fresh profile, polling, the
// step runner that prints "ok"/"not ok" lines and the closing "N passed, N failed", and
// cleanup of everything started, also when the time budget runs out.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const B = path.resolve(top, process.env.IOTC_BUILDDIR || path.join('build', 'release'));
export const SHOTS = path.join(B, 'screenshots');
export const MODEL = path.join(top, 'models', 'environmental-sensor.dtdlv2.json');
const CHROMIUM = process.env.IOTC_CHROMIUM || '/usr/bin/chromium';

const procs = [];
const tmpDirs = [];
let context = null;
let passed = 0;
let failed = 0;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tmpDir(prefix) {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    tmpDirs.push(d);
    return d;
}

/** Poll fn until it returns a truthy value; throws "timed out waiting for what" after ms. */
export async function until(fn, ms, what) {
    const end = Date.now() + ms;
    let last = null;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (err) {
            last = err;
        }
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (${last.message})` : ''}`);
        await sleep(150);
    }
}

/** Start a child process that cleanup() stops. */
export function spawnTracked(cmd, args, opts) {
    const p = spawn(cmd, args, opts);
    procs.push(p);
    return p;
}

/** iotc-central serve on free loopback ports (HTTPS + plain HTTP) with a new data dir. */
export function startCentral() {
    const dir = tmpDir('iotc-browser-');
    const bin = path.join(B, 'iotc-central');
    if (!fs.existsSync(bin)) throw new Error(`${bin} not found (set IOTC_BUILDDIR)`);
    const p = spawnTracked(bin, ['serve', '--data-dir', dir, '--mqtt-port', '0', '--https-port', '0',
        '--http-port', '0', '--wss-port', 'off', '--bind', '127.0.0.1', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.checkExit = () => err; // cleanup() requires a clean exit (sanitizer reports make it non-zero)
    return new Promise((resolve, reject) => {
        p.stdout.on('data', (d) => {
            out += d;
            if (/^ready$/m.test(out)) {
                const num = (k) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(out)[1]);
                resolve({
                    dir, proc: p, token: fs.readFileSync(path.join(dir, 'admin-token'), 'utf8').split('\n')[0],
                    https: num('https-port'), http: num('http-port'), mqtts: num('mqtts-port'), log: () => err,
                });
            }
        });
        p.once('exit', (code) => reject(new Error(`iotc-central exited (${code}): ${err}`)));
    });
}

/** Headless Chromium with a new empty profile; returns its first page (1280x800). */
export async function launch() {
    const profile = tmpDir('iotc-chromium-');
    context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        ignoreHTTPSErrors: true,
        viewport: { width: 1280, height: 800 },
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        timeout: 60000,
    });
    context.setDefaultTimeout(15000);
    const page = context.pages()[0] || (await context.newPage());
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    fs.mkdirSync(SHOTS, { recursive: true });
    page.shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
    return page;
}

/**
 * A caller of the application API at @p origin: call(method, path, body, token = app.token) sends
 * @p body as JSON and answers the parsed reply (null when empty); a status other than 2xx throws.
 */
export function apiCaller(app, origin) {
    return async (method, p, body, token = app.token) => {
        const res = await fetch(`${origin}${p}${p.includes('?') ? '&' : '?'}api-version=2022-07-31`, {
            method, headers: { Authorization: token, 'Content-Type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`${method} ${p} -> ${res.status} ${text}`);
        return text ? JSON.parse(text) : null;
    };
}

/** A GET on the application API with @p token, through the page's request context. */
export async function apiGet(page, origin, token, p) {
    const res = await page.request.get(`${origin}${p}${p.includes('?') ? '&' : '?'}api-version=2022-07-31`,
        { headers: { Authorization: token } });
    return res.json();
}

async function cleanup() {
    if (context) await context.close().catch(() => {});
    context = null;
    for (const p of procs.reverse()) {
        if (p.exitCode === null && p.signalCode === null) {
            p.kill('SIGTERM');
            const t = setTimeout(() => p.kill('SIGKILL'), 4000);
            await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r)));
            clearTimeout(t);
        }
        if (p.checkExit && p.exitCode !== 0) {
            failed++;
            console.log(`not ok - iotc-central exited with ${p.exitCode ?? p.signalCode}:\n${p.checkExit().slice(-3000)}`);
        }
    }
    if (!process.env.IOTC_KEEP_DATA) for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
}

/**
 * Run @p body(step) within the time budget; step(name, fn) runs one check. Each step depends
 * on the ones before: after a failure the rest are counted as failed and not run
 * (unless IOTC_BROWSER_KEEP_GOING is set).
 * Prints "N passed, N failed" and exits 0 only when everything passed.
 */
export async function runSteps(body, budgetMs = Number(process.env.IOTC_BROWSER_BUDGET_MS || 115000)) {
    const started = Date.now();
    const watchdog = setTimeout(async () => {
        console.log(`not ok - time budget of ${budgetMs} ms exceeded`);
        failed++;
        await cleanup();
        console.log(`${passed} passed, ${failed} failed`);
        process.exit(1);
    }, budgetMs);
    const steps = [];
    try {
        const page = await body((name, fn) => steps.push([name, fn]));
        for (const [i, [name, fn]] of steps.entries()) {
            const t0 = Date.now();
            try {
                await fn();
                passed++;
                console.log(`ok - ${name} (${Date.now() - t0} ms)`);
            } catch (err) {
                failed++;
                console.log(`not ok - ${name}: ${err.message}`);
                if (page) await page.shot(`fail-${path.basename(process.argv[1], '.test.mjs')}-${i + 1}`).catch(() => {});
                const rest = steps.length - i - 1;
                // IOTC_BROWSER_KEEP_GOING=1 runs the rest anyway (to see every check that fails
                // against an older build); their results then mean less.
                if (process.env.IOTC_BROWSER_KEEP_GOING) continue;
                if (rest > 0) {
                    console.log(`# the remaining ${rest} steps depend on this one and were not run`);
                    failed += rest;
                }
                break;
            }
        }
    } catch (err) {
        failed++;
        console.log(`not ok - setup: ${err.stack || err}`);
    }
    console.log(`# screenshots in ${SHOTS}; ${Date.now() - started} ms`);
    clearTimeout(watchdog);
    await cleanup();
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
}
