// The device-wide command history (issue 17, "Commands"): every command of a device with its
// state, its request shown with the request's name, and its response in a details panel as
// indented JSON, newest first, a page of 20 at a time, updated when a command runs; besides
// the per-card last ten. The device is the C environmental-sensor. Checked at 1280 and 390 px
// (no sideways scrolling, contrast at least 4.5:1). Screenshots:
// $IOTC_BUILDDIR/screenshots/command-history-{1280,390}.png.
import fs from 'node:fs';
import path from 'node:path';
import { lowContrast } from './a11y.mjs';
import { apiCaller, B, launch, MODEL, runSteps, spawnTracked, startCentral, until } from './lib.mjs';

const TPL = 'dtmi:iotc:example:EnvironmentalSensor;1';
const DEV = 'cmd-1';

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const call = apiCaller(app, origin);
    const model = JSON.parse(fs.readFileSync(MODEL, 'utf8'));
    await call('PUT', `/api/deviceTemplates/${encodeURIComponent(TPL)}`, { displayName: 'Environmental sensor', capabilityModel: model });
    await call('POST', `/api/deviceTemplates/${encodeURIComponent(TPL)}/publish`, {});
    await call('PUT', `/api/devices/${DEV}`, { displayName: 'Sensor with commands', template: TPL });
    const creds = await call('GET', `/api/devices/${DEV}/credentials`);
    spawnTracked(path.join(B, 'environmental-sensor'), ['--id-scope', creds.idScope, '--device-id', DEV,
        '--device-key', creds.symmetricKey.primaryKey, '--dps-endpoint', `localhost:${app.mqtts}`, '--ca-file', path.join(app.dir, 'ca.pem'),
        '--interval', '5', '--diagnostics-delay', '1000'], { stdio: ['ignore', 'ignore', 'ignore'] });
    const page = await launch();
    const hist = () => page.getByRole('region', { name: 'Command history' });
    const rows = () => hist().locator('tbody tr:not(.cmd-open)');
    // the top of a region (its first rows), to keep the picture small
    const shotTop = async (loc, name, height) => {
        await loc.evaluate((el) => el.scrollIntoView({ block: 'start' }));
        const b = await loc.boundingBox();
        const vh = page.viewportSize().height;
        await page.screenshot({ path: path.join(B, 'screenshots', `${name}.png`),
            clip: { x: b.x, y: Math.max(0, b.y), width: b.width, height: Math.min(b.height, height, vh - Math.max(0, b.y)) } });
    };

    step('the device connects; 22 blinks and a turnon run through the API', async () => {
        await until(async () => (await call('GET', `/api/devices/${DEV}`)).connected, 20000, 'the sensor connected');
        for (let i = 1; i <= 22; i++) await call('POST', `/api/devices/${DEV}/commands/blink`, { request: i });
        await call('POST', `/api/devices/${DEV}/commands/turnon`, {});
    });
    step('Commands: the history lists every command, newest first, 20 a page', async () => {
        await page.goto(`${origin}/#token=${encodeURIComponent(app.token)}`);
        await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
        await page.goto(`${origin}/#/devices/${DEV}/commands`);
        await hist().getByRole('heading', { name: 'Command history' }).waitFor();
        await until(async () => (await page.textContent('#hist-info')) === 'Page 1 of 2 · 23 commands', 5000, 'the history page info');
        if ((await rows().count()) !== 20) throw new Error(`${await rows().count()} rows`);
        const first = await rows().first().textContent();
        if (!/turnon/.test(first) || !/Completed/.test(first)) throw new Error(`newest row: ${first}`);
        const second = await rows().nth(1).textContent();
        if (!/blink/.test(second) || !/Interval: 22/.test(second)) throw new Error(`second row (request with its name): ${second}`);
        if (/\bnull\b/.test(await hist().textContent())) throw new Error('"null" in the history');
        await page.getByRole('button', { name: 'Older' }).click();
        await until(async () => (await rows().count()) === 3, 3000, 'the older page');
        if (!/Interval: 1(?!\d)/.test(await rows().last().textContent())) throw new Error(`oldest row: ${await rows().last().textContent()}`);
        await page.getByRole('button', { name: 'Newer' }).click();
    });
    step('a command run on its card appears at the top of the history', async () => {
        await page.getByRole('button', { name: 'Run' }).nth(3).waitFor();
        await page.locator('#run-rundiagnostics').click();
        await until(async () => /rundiagnostics/.test(await rows().first().textContent()), 8000, 'rundiagnostics in the history');
        await until(async () => /Completed: Diagnostics run complete/.test(await rows().first().textContent()), 10000, 'its completion');
        if ((await page.textContent('#hist-info')) !== 'Page 1 of 2 · 24 commands') throw new Error(await page.textContent('#hist-info'));
    });
    step('Details opens the request and the response as indented JSON', async () => {
        const row = rows().nth(2); // blink 22
        await row.getByRole('button', { name: /^Show details of blink/ }).click();
        const open = hist().getByRole('button', { name: /^Hide details of blink/ });
        if ((await open.getAttribute('aria-expanded')) !== 'true') throw new Error('aria-expanded not true');
        const panel = hist().locator('tr.cmd-open');
        const pres = await panel.locator('pre.json').allTextContents();
        if (pres.length !== 2 || pres[0] !== '22') throw new Error(`request panel: ${JSON.stringify(pres)}`);
        if (pres[1] !== '{\n  "description": "Blinking LED every 22 seconds"\n}') throw new Error(`response not indented: ${JSON.stringify(pres[1])}`);
        if (!(await panel.getByRole('heading', { name: 'Request: Interval' }).count())) throw new Error('request panel without the request name');
        // the keyboard stays on the button
        if (!(await open.evaluate((b) => b === document.activeElement))) throw new Error('focus lost after opening');
        await shotTop(hist(), 'command-history-1280', 620);
        const low = await lowContrast(page);
        if (low.length) throw new Error(`low contrast: ${JSON.stringify(low.slice(0, 5))}`);
    });
    step('390 px: the history fits, no sideways scrolling; contrast', async () => {
        await page.setViewportSize({ width: 390, height: 844 });
        await hist().scrollIntoViewIfNeeded();
        const w = await page.evaluate(() => document.documentElement.scrollWidth);
        if (w > 392) throw new Error(`page is ${w}px wide`);
        for (const [i, what] of [[3, 'status'], [5, 'details']]) {
            const box = await hist().locator('tbody tr').first().locator('td').nth(i).boundingBox();
            if (!box || box.x + box.width > 390) throw new Error(`${what} column off screen: ${JSON.stringify(box)}`);
        }
        const low = await lowContrast(page);
        if (low.length) throw new Error(`low contrast: ${JSON.stringify(low.slice(0, 5))}`);
        await shotTop(hist(), 'command-history-390', 900);
        await page.setViewportSize({ width: 1280, height: 800 });
    });
    step('no script errors in the page', async () => {
        if (page.errors.length) throw new Error(page.errors.join('; '));
    });
    return page;
});
