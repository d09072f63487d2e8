// Operator bugs of issue 17, each checked the way an operator sees the page (labels, roles,
// visible text): no "null" in command results; a property edited while the device is offline
// keeps the typed value, pending, without an earlier acknowledgement; raw data shows an ack's
// value in its column (details in an expandable row), keeps Errors on screen and rows short,
// and judges the tutorial's start-up report as About does; confirmations are transient
// notifications that do not move the page; the live updates indicator says what it is; no
// "Simulate this device?" checkbox; quick page changes leave no event stream open.
// Screenshots at 1280 and 390 px go to $IOTC_BUILDDIR/screenshots/bugs-*.png.
import fs from 'node:fs';
import path from 'node:path';
import { apiCaller, B, launch, MODEL, runSteps, sleep, spawnTracked, startCentral, until } from './lib.mjs';

const TPL = 'dtmi:iotc:example:EnvironmentalSensor;1';
const DEV = 'bug-1';

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const call = apiCaller(app, origin);
    const model = JSON.parse(fs.readFileSync(MODEL, 'utf8'));
    await call('PUT', `/api/deviceTemplates/${encodeURIComponent(TPL)}`, {
        displayName: 'Environmental sensor',
        capabilityModel: model,
        customizations: { state: { trueName: 'Online', falseName: 'Offline' } },
        views: [
            { id: 'overview', displayName: 'Overview', type: 'dashboard', tiles: [{ displayName: 'Temperature', type: 'lineChart', capabilities: [{ component: '', name: 'temp' }] }] },
            { id: 'about', displayName: 'About', type: 'form', readOnly: true, sections: [{ displayName: 'Properties', fields: ['state', 'swVersion', 'name'].map((name) => ({ component: '', name })) }] },
            { id: 'properties', displayName: 'Properties', type: 'form', sections: [{ displayName: 'Settings', fields: [{ component: '', name: 'name' }, { component: '', name: 'brightness' }] }] },
        ],
    });
    await call('POST', `/api/deviceTemplates/${encodeURIComponent(TPL)}/publish`, {});

    const page = await launch();
    // Count the page's open event streams: a fetch of .../events is open until its signal aborts
    // or it fails.
    await page.addInitScript(() => {
        const real = window.fetch;
        window.__streams = { opened: 0, open: 0 };
        window.fetch = function (input, init) {
            const url = String(input && input.url ? input.url : input);
            if (!/\/events(\?|$)/.test(url)) return real.apply(this, arguments);
            window.__streams.opened++;
            window.__streams.open++;
            let ended = false;
            const end = () => {
                if (!ended) {
                    ended = true;
                    window.__streams.open--;
                }
            };
            if (init && init.signal) init.signal.addEventListener('abort', end);
            return real.apply(this, arguments).catch((err) => {
                end();
                throw err;
            });
        };
    });
    const streams = () => page.evaluate(() => ({ ...window.__streams }));
    const go = (hash) => page.evaluate((x) => { location.hash = x; }, hash);
    const shots = async (name) => {
        await page.shot(`bugs-${name}-1280`);
        await page.setViewportSize({ width: 390, height: 844 });
        await sleep(300);
        await page.shot(`bugs-${name}-390`);
        const w = await page.evaluate(() => document.documentElement.scrollWidth);
        await page.setViewportSize({ width: 1280, height: 800 });
        await sleep(200);
        if (w > 392) throw new Error(`${name}: the page is ${w}px wide at 390 px`);
    };
    let sensor = null;

    step('sign in', async () => {
        await page.goto(`${origin}/#token=${encodeURIComponent(app.token)}`);
        await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
    });

    step('6: creating a device offers no "Simulate this device?" and sends no simulated field', async () => {
        await page.getByRole('button', { name: '+ New' }).click();
        const dlg = page.getByRole('dialog', { name: 'Create a device' });
        await dlg.waitFor();
        const boxes = (await dlg.getByLabel('Simulate this device?').count()) + (await dlg.getByRole('checkbox').count());
        await dlg.getByLabel('Device name').fill('Bug sensor');
        await dlg.getByLabel('Device ID').fill(DEV);
        await page.shot('bugs-create-1280');
        const [req] = await Promise.all([
            page.waitForRequest((r) => r.method() === 'PUT' && r.url().includes(`/api/devices/${DEV}`)),
            dlg.getByRole('button', { name: 'Create' }).click(),
        ]);
        await page.waitForURL(new RegExp(`#/devices/${DEV}`));
        if (boxes) throw new Error('the "Simulate this device?" checkbox is still there');
        if ('simulated' in req.postDataJSON()) throw new Error(`the request still sends simulated: ${req.postData()}`);
        const d = await call('GET', `/api/devices/${DEV}`);
        if (d.simulated !== false) throw new Error(`the API no longer returns simulated: ${JSON.stringify(d)}`);
    });

    step('5: the live indicator says it is the page\'s live updates, apart from the device\'s connection', async () => {
        await page.getByRole('heading', { level: 1, name: 'Bug sensor' }).waitFor();
        const live = page.locator('.page-head').getByRole('status');
        await until(async () => /^Live updates on$/.test((await live.textContent()).trim()), 8000, 'the live indicator');
        const badge = page.locator('.page-head').getByText('Disconnected', { exact: true });
        if (!(await badge.count())) throw new Error('no Disconnected badge');
        await shots('device-header');
    });

    step('7: two quick page changes leave no event stream open', async () => {
        await go('#/devices');
        await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
        await until(async () => (await streams()).open === 0, 4000, 'no open stream on the devices list');
        // the About form waits 1.5 s for its properties: the page is left before it has rendered
        await page.route(/\/properties\?/, async (r) => {
            await sleep(1500);
            await r.continue().catch(() => {});
        });
        const before = (await streams()).opened;
        await go(`#/devices/${DEV}/about`);
        await until(async () => (await streams()).opened > before, 5000, 'the About page\'s stream');
        await go(`#/devices/${DEV}/commands`);
        await go('#/devices');
        await sleep(2500); // past the delayed properties and every render they let finish
        await page.unroute(/\/properties\?/);
        const s = await streams();
        if (s.open !== 0) throw new Error(`${s.open} event stream(s) still open on the devices list (${s.opened - before} opened)`);
        const h1 = await page.getByRole('heading', { level: 1 }).textContent();
        if (h1 !== 'Devices') throw new Error(`a page left behind drew over the devices list: "${h1}"`);
    });

    step('start the environmental sensor', async () => {
        const creds = await call('GET', `/api/devices/${DEV}/credentials`);
        sensor = spawnTracked(path.join(B, 'environmental-sensor'), ['--id-scope', creds.idScope, '--device-id', DEV,
            '--device-key', creds.symmetricKey.primaryKey, '--dps-endpoint', `localhost:${app.mqtts}`,
            '--ca-file', path.join(app.dir, 'ca.pem'), '--interval', '1', '--name-delay', '200',
            '--brightness-delay', '200', '--diagnostics-delay', '3000'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        sensor.stdout.on('data', (d) => (out += d));
        sensor.stderr.on('data', (d) => (out += d));
        await until(async () => (await call('GET', `/api/devices/${DEV}`)).connected, 20000, `the sensor to connect (${out.slice(-300)})`);
    });

    step('1: command results without a response show none (no "null")', async () => {
        await go(`#/devices/${DEV}/commands`);
        const card = (name) => page.locator('form', { has: page.getByRole('heading', { level: 2, name }) });
        for (const name of ['Turn on', 'Turn off']) {
            await card(name).getByRole('button', { name: 'Run' }).click();
            const result = card(name).getByRole('status');
            await until(async () => /Completed \(200\)/.test(await result.textContent()), 15000, `${name} completed`);
            const text = (await result.textContent()).trim();
            if (text !== 'Completed (200)') throw new Error(`${name}: "${text}"`);
        }
        const diag = card('Run diagnostics');
        await diag.getByRole('button', { name: 'Run' }).click();
        await until(async () => /Accepted \(202\)/.test(await diag.getByRole('status').textContent()), 15000, 'rundiagnostics accepted');
        const text = (await diag.getByRole('status').textContent()).trim();
        if (/null/.test(text)) throw new Error(`rundiagnostics: "${text}"`);
        await until(async () => /Completed: Diagnostics run complete/.test(await diag.getByRole('status').textContent()), 15000, 'the completion');
        const all = await page.locator('main').textContent();
        if (/\bnull\b/.test(all)) throw new Error('"null" on the Commands page');
        await shots('commands');
    });

    step('3: raw data shows an acknowledged value in its column, details on demand, Errors on screen', async () => {
        await call('PATCH', `/api/devices/${DEV}/properties`, { name: 'Contoso' });
        await until(async () => (await call('GET', `/api/devices/${DEV}/properties`)).$metadata.name.state === 'synced', 10000, 'name synced');
        await go(`#/devices/${DEV}/rawdata`);
        const tbl = page.getByRole('table');
        await until(async () => (await tbl.getByRole('row').filter({ hasText: 'Contoso' }).count()) > 0, 8000, 'the acknowledgement row');
        const heads = (await tbl.getByRole('columnheader').allTextContents()).map((x) => x.trim());
        const col = heads.indexOf('Customer Name');
        if (col < 0) throw new Error(`no Customer Name column: ${heads}`);
        const ack = tbl.getByRole('row').filter({ hasText: 'Contoso' }).first();
        const cell = (await ack.getByRole('cell').nth(col).textContent()).trim();
        if (cell !== 'Contoso') throw new Error(`Customer Name shows "${cell}"`);
        await ack.getByRole('button', { name: /details/i }).click();
        const details = page.getByRole('region', { name: /details/i }).first();
        await details.waitFor();
        const dt = await details.textContent();
        if (!/200/.test(dt) || !/completed/.test(dt)) throw new Error(`the details do not show the acknowledgement: ${dt}`);
        // the Errors column is on screen at 1280 px and property rows stay as short as telemetry rows
        const eh = await tbl.getByRole('columnheader', { name: 'Errors' }).boundingBox();
        if (!eh || eh.x + eh.width > 1280) throw new Error(`the Errors column is off-screen (${JSON.stringify(eh)})`);
        const startup = tbl.getByRole('row').filter({ hasText: 'ARM' }).first();
        const tele = tbl.getByRole('row').filter({ hasText: 'telemetry' }).first();
        const hs = (await startup.boundingBox()).height;
        const ht = (await tele.boundingBox()).height;
        if (hs > ht * 1.6) throw new Error(`the start-up report row is ${hs}px tall, a telemetry row ${ht}px`);
        if (!/1 error/.test(await startup.textContent())) throw new Error(`the start-up report is not flagged: ${await startup.textContent()}`);
        await shots('raw-data');
    });

    step('3: About judges the start-up report\'s "state" as raw data does', async () => {
        await go(`#/devices/${DEV}/about`);
        const state = page.locator('dd#field-state');
        await until(async () => /expected boolean, got string/.test(await state.textContent()), 8000,
            `Device State flagged like raw data (shows "${await state.textContent()}")`);
        if (/Online/.test(await state.textContent())) throw new Error('About still reads the string "true" as Online');
        await shots('about');
    });

    step('2: a property edited while the device is offline keeps the typed value, pending, without an old ack', async () => {
        sensor.kill('SIGTERM');
        await until(async () => !(await call('GET', `/api/devices/${DEV}`)).connected, 10000, 'the sensor to disconnect');
        await go(`#/devices/${DEV}/properties`);
        const box = page.getByLabel('Customer Name');
        await until(async () => (await box.inputValue()) === 'Contoso', 5000, 'the current value');
        await box.fill('Fabrikam');
        await page.getByRole('button', { name: 'Save' }).click();
        const status = page.getByRole('status').filter({ hasText: /Pending/ });
        await until(async () => /Fabrikam/.test(await status.first().textContent().catch(() => '')), 5000, 'pending Fabrikam');
        await sleep(800);
        if ((await box.inputValue()) !== 'Fabrikam') throw new Error(`the box snapped back to "${await box.inputValue()}"`);
        const text = await status.first().textContent();
        if (/answered/.test(text)) throw new Error(`an earlier acknowledgement is shown as this one's: ${text}`);
        await page.reload();
        await until(async () => (await page.getByLabel('Customer Name').inputValue()) === 'Fabrikam', 5000, 'Fabrikam after a reload');
        await shots('properties-offline');
    });

    step('4: confirmations are transient notifications that do not move the page', async () => {
        await go(`#/templates/${encodeURIComponent(TPL)}`);
        const save = page.getByRole('button', { name: 'Save customizations' });
        await save.waitFor();
        const top = () => page.evaluate(() => document.getElementById('main').getBoundingClientRect().top + window.scrollY);
        const y0 = await top();
        for (let i = 0; i < 4; i++) {
            await save.click();
            await sleep(150);
        }
        const toasts = page.getByRole('status').filter({ hasText: 'saved' });
        await until(async () => (await toasts.count()) > 0, 3000, 'a notification');
        const y1 = await top();
        if (Math.abs(y1 - y0) > 1) throw new Error(`the page moved down by ${y1 - y0}px`);
        if (await page.getByRole('alert').filter({ hasText: 'saved' }).count()) throw new Error('confirmations in the alert box');
        const live = await toasts.first().getAttribute('aria-live');
        if (live !== 'polite') throw new Error(`notification region aria-live=${live}`);
        await shots('template-toasts');
        await until(async () => (await page.locator('.toast').count()) === 0, 8000, 'the notifications to go');
    });

    step('no script errors in the page', async () => {
        if (page.errors.length) throw new Error(page.errors.join('; '));
    });

    return page;
});
