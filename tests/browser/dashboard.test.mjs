// The dashboard, the application's home page (issue 17, "A dashboard"): device counts by
// state (each a link to the devices list so filtered), the default device group tile asking
// for a group, and the operator adding a last known value of one device's
// telemetry and a chart of a telemetry across a template's devices, removing a tile, and
// finding the dashboard again after a reload (saved on the server: /api/dashboards/home).
// Two environmental-sensors are the connected devices. Checked at 1280 and 390 px (no sideways
// scrolling, contrast at least 4.5:1). Screenshots: $IOTC_BUILDDIR/screenshots/dashboard-{1280,390}.png.
import fs from 'node:fs';
import path from 'node:path';
import { lowContrast } from './a11y.mjs';
import { apiCaller, B, launch, MODEL, runSteps, spawnTracked, startCentral, until } from './lib.mjs';

const TPL = 'dtmi:iotc:example:EnvironmentalSensor;1';

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const call = apiCaller(app, origin);
    const model = JSON.parse(fs.readFileSync(MODEL, 'utf8'));
    await call('PUT', `/api/deviceTemplates/${encodeURIComponent(TPL)}`, { displayName: 'Environmental sensor', capabilityModel: model });
    await call('POST', `/api/deviceTemplates/${encodeURIComponent(TPL)}/publish`, {});
    await call('PUT', '/api/devices/dash-1', { displayName: 'Lobby sensor', template: TPL });
    await call('PUT', '/api/devices/dash-2', { displayName: 'Roof sensor', template: TPL });
    await call('PUT', '/api/devices/dash-3', { displayName: 'Blocked sensor', template: TPL, enabled: false });
    await call('PUT', '/api/devices/dash-4', { displayName: 'Loose device' });
    for (const id of ['dash-1', 'dash-2']) {
        const creds = await call('GET', `/api/devices/${id}/credentials`);
        spawnTracked(path.join(B, 'environmental-sensor'), ['--id-scope', creds.idScope, '--device-id', id,
            '--device-key', creds.symmetricKey.primaryKey, '--dps-endpoint', `localhost:${app.mqtts}`, '--ca-file', path.join(app.dir, 'ca.pem'),
            '--interval', '1'], { stdio: ['ignore', 'ignore', 'ignore'] });
    }
    const page = await launch();
    const tile = (name) => page.getByRole('region', { name });
    const count = (label) => tile('Devices').getByRole('link', { name: new RegExp(`^${label}: `) });

    step('signing in at / opens the dashboard', async () => {
        await until(async () => (await call('GET', '/api/devices?$top=10')).value.filter((d) => d.connected).length === 2, 20000, 'both sensors connected');
        await page.goto(`${origin}/`);
        await page.getByLabel('API token').fill(app.token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
        if (!/#\/dashboard$/.test(page.url())) throw new Error(`address ${page.url()}`);
        const current = await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).getAttribute('aria-current');
        if (current !== 'page') throw new Error('Dashboard is not the current page in the navigation');
    });
    step('device counts by state; the default group tile asks for a group', async () => {
        const want = { 'All devices': 4, Connected: 2, Disconnected: 2, Provisioned: 2, Registered: 0, Blocked: 1, Unassociated: 1 };
        for (const [label, n] of Object.entries(want)) {
            const name = await count(label).getAttribute('aria-label');
            if (name !== `${label}: ${n}`) throw new Error(`${label}: ${name}`);
        }
        const group = await tile('Device group chart').textContent();
        if (!/Choose a device group and a telemetry/.test(group)) throw new Error(`group tile: ${group}`);
    });
    step('a count opens the devices list so filtered', async () => {
        await count('Blocked').click();
        await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
        await until(async () => (await page.locator('table.devices tbody tr').count()) === 1, 5000, 'one blocked device');
        if ((await page.getByLabel('Status').inputValue()) !== 'blocked') throw new Error('status filter not set');
        await page.goBack();
        await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    });
    step('Edit: add the last known temperature of the lobby sensor', async () => {
        await page.getByRole('button', { name: 'Edit' }).click();
        await page.getByLabel('Tile', { exact: true }).selectOption('lastValue');
        await page.getByLabel('Device', { exact: true }).selectOption('dash-1');
        await until(async () => (await page.getByLabel('Telemetry').locator('option').count()) > 0, 3000, 'the telemetry choices');
        await page.getByLabel('Telemetry').selectOption('/temp');
        await page.getByRole('button', { name: 'Add tile' }).click();
        await page.getByRole('status').getByText('Dashboard saved.').waitFor();
        const t = tile('Temperature · Lobby sensor');
        await t.waitFor();
        const v = await t.locator('.bigvalue').textContent();
        if (!/^-?\d+(\.\d+)? °F$/.test(v)) throw new Error(`last value: ${v}`);
        const saved = await call('GET', '/api/dashboards/home');
        if (saved.tiles.length !== 3 || saved.tiles[2].device !== 'dash-1' || saved.tiles[2].telemetry !== 'temp') throw new Error(JSON.stringify(saved));
    });
    step('add a chart of temperature across the template\'s devices', async () => {
        await page.getByLabel('Tile', { exact: true }).selectOption('templateChart');
        await page.getByLabel('Device template').selectOption(TPL);
        await until(async () => (await page.getByLabel('Telemetry').locator('option').count()) > 0, 3000, 'the telemetry choices');
        await page.getByLabel('Telemetry').selectOption('/temp');
        await page.getByLabel('Tile name').fill('Temperature of every sensor');
        await page.getByRole('button', { name: 'Add tile' }).click();
        const t = tile('Temperature of every sensor');
        await t.waitFor();
        const chart = t.getByRole('img');
        await chart.waitFor();
        const label = await chart.getAttribute('aria-label');
        // three devices use the template (one blocked, never connected): two send temperature
        if (!/line chart of \d+ points from 3 devices/.test(label)) throw new Error(`chart: ${label}`);
        if (!(await t.locator('.u-legend').getByText('Roof sensor').count())) throw new Error('no series for the roof sensor');
        await page.evaluate(() => document.getElementById('toasts').replaceChildren());
        await page.shot('dashboard-edit-1280');
    });
    step('remove the group tile; Done; a reload shows the saved dashboard', async () => {
        await page.getByRole('button', { name: 'Remove tile Device group chart' }).click();
        await until(async () => (await tile('Device group chart').count()) === 0, 5000, 'the tile removed');
        const focused = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
        if (focused !== 'Remove tile Temperature · Lobby sensor') throw new Error(`focus after removing: ${focused}`);
        await page.getByRole('button', { name: 'Done' }).click();
        await page.reload();
        await tile('Temperature of every sensor').getByRole('img').waitFor();
        const names = await page.locator('.dash-tile h2').allTextContents();
        if (names.join('|') !== 'Devices|Temperature · Lobby sensor|Temperature of every sensor') throw new Error(`tiles: ${names}`);
    });
    step('1280 px: contrast; screenshot', async () => {
        await page.evaluate(() => document.getElementById('toasts').replaceChildren());
        const low = await lowContrast(page);
        if (low.length) throw new Error(`low contrast: ${JSON.stringify(low.slice(0, 5))}`);
        await page.shot('dashboard-1280');
    });
    step('390 px: no sideways scrolling; contrast; screenshot', async () => {
        await page.setViewportSize({ width: 390, height: 844 });
        await page.reload();
        await tile('Temperature of every sensor').getByRole('img').waitFor();
        const w = await page.evaluate(() => document.documentElement.scrollWidth);
        if (w > 392) throw new Error(`page is ${w}px wide`);
        const low = await lowContrast(page);
        if (low.length) throw new Error(`low contrast: ${JSON.stringify(low.slice(0, 5))}`);
        await page.shot('dashboard-390');
        await page.setViewportSize({ width: 1280, height: 800 });
    });
    step('the other pages keep the contrast too (templates, a template, a device, administration)', async () => {
        const bad = [];
        for (const hash of ['#/templates', `#/templates/${encodeURIComponent(TPL)}`, '#/devices/dash-1', '#/devices/dash-1/commands', '#/admin']) {
            await page.goto(`${origin}/${hash}`);
            await page.locator('main h1').waitFor();
            await page.waitForLoadState('networkidle').catch(() => {});
            for (const x of await lowContrast(page)) bad.push({ hash, ...x });
        }
        if (bad.length) throw new Error(`low contrast: ${JSON.stringify(bad.slice(0, 6))}`);
    });
    step('no script errors in the page', async () => {
        if (page.errors.length) throw new Error(page.errors.join('; '));
    });
    return page;
});
