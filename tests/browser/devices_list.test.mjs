// The devices list of a fleet (issue 17, "Views a fleet needs"): 300 devices created through
// the API, one of them a running environmental-sensor. Search by name or id, filters by
// template / status / connection, sortable columns, pages, bulk block / unblock / delete with a
// confirmation, everything kept in the address across a reload; at 390 px the status and
// connection columns stay on screen; text contrast at least 4.5:1; keyboard order of the filters.
// Screenshots: $IOTC_BUILDDIR/screenshots/devices-list-{1280,390}.png.
import fs from 'node:fs';
import path from 'node:path';
import { lowContrast } from './a11y.mjs';
import { apiCaller, B, launch, MODEL, runSteps, spawnTracked, startCentral, until } from './lib.mjs';

const TPL = 'dtmi:iotc:example:EnvironmentalSensor;1';
const N = 300;
const pad = (i) => String(i).padStart(3, '0');

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const call = apiCaller(app, origin);
    const model = JSON.parse(fs.readFileSync(MODEL, 'utf8'));
    await call('PUT', `/api/deviceTemplates/${encodeURIComponent(TPL)}`, { displayName: 'Environmental sensor', capabilityModel: model });
    await call('POST', `/api/deviceTemplates/${encodeURIComponent(TPL)}/publish`, {});
    // every 10th device has no template (unassociated), every 25th is blocked
    for (let i = 1; i <= N; i += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, k) => i + k).map((j) => {
            const body = { displayName: `Sensor ${pad(j)}`, enabled: j % 25 !== 0 };
            if (j % 10 !== 0) body.template = TPL;
            return call('PUT', `/api/devices/dev-${pad(j)}`, body);
        }));
    }
    const creds = await call('GET', '/api/devices/dev-007/credentials');
    const sensor = spawnTracked(path.join(B, 'environmental-sensor'), ['--id-scope', creds.idScope, '--device-id', 'dev-007',
        '--device-key', creds.symmetricKey.primaryKey, '--dps-endpoint', `localhost:${app.mqtts}`, '--ca-file', path.join(app.dir, 'ca.pem'),
        '--interval', '2'], { stdio: ['ignore', 'ignore', 'ignore'] });
    const page = await launch();
    const rows = () => page.locator('table.devices tbody tr');
    const firstName = async () => (await rows().first().locator('td').nth(1).textContent()).trim();
    const info = () => page.locator('#page-info').textContent();
    const hashParams = () => new URLSearchParams(new URL(page.url()).hash.split('?')[1] || '');

    step('sign in; the list says 300 devices and shows the first page of 25', async () => {
        await page.goto(`${origin}/#token=${encodeURIComponent(app.token)}`);
        await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
        await until(async () => (await page.textContent('#dev-count')) === `${N} devices`, 8000, 'the device count');
        if ((await rows().count()) !== 25) throw new Error(`${await rows().count()} rows`);
        if (!/^Page 1 of 12 · 1–25 of 300$/.test(await info())) throw new Error(`page info: ${await info()}`);
        if ((await firstName()) !== 'Sensor 001') throw new Error(`first row ${await firstName()}`);
    });
    step('next page, then 100 per page', async () => {
        await page.getByRole('button', { name: 'Next page' }).click();
        await until(async () => (await firstName()) === 'Sensor 026', 3000, 'page 2');
        if (hashParams().get('page') !== '2') throw new Error(`address ${page.url()}`);
        await page.getByLabel('Per page').selectOption('100');
        await until(async () => (await rows().count()) === 100, 3000, '100 rows');
        if (!/^Page 1 of 3/.test(await info())) throw new Error(`page info: ${await info()}`);
        await page.getByRole('button', { name: 'Next page' }).click();
        await page.getByRole('button', { name: 'Next page' }).click();
        await until(async () => (await firstName()) === 'Sensor 201', 3000, 'page 3');
        if (!(await page.getByRole('button', { name: 'Next page' }).isDisabled())) throw new Error('Next page enabled on the last page');
        await page.getByLabel('Per page').selectOption('25');
    });
    step('search by name and by id', async () => {
        await page.getByLabel('Search devices').fill('sensor 042');
        await until(async () => (await rows().count()) === 1 && (await firstName()) === 'Sensor 042', 3000, 'one match by name');
        await page.getByLabel('Search devices').fill('dev-04');
        await until(async () => (await rows().count()) === 10, 3000, 'ten matches by id');
        if ((await page.textContent('#dev-count')) !== `10 of ${N} devices match`) throw new Error(await page.textContent('#dev-count'));
        if (hashParams().get('q') !== 'dev-04') throw new Error(`address ${page.url()}`);
    });
    step('filters: status Blocked, template Unassigned, connection Connected', async () => {
        await page.getByLabel('Search devices').fill('');
        await page.getByLabel('Status').selectOption('blocked');
        await until(async () => (await rows().count()) === 12, 3000, '12 blocked devices');
        for (const t of await rows().locator('td:nth-child(5)').allTextContents()) if (t !== 'Blocked') throw new Error(`status ${t}`);
        await page.getByLabel('Status').selectOption('');
        await page.getByLabel('Device template').selectOption('-');
        await until(async () => /^30 of 300/.test(await page.textContent('#dev-count')), 3000, '30 unassigned devices');
        await page.getByLabel('Device template').selectOption('');
        await page.getByLabel('Connection').selectOption('connected');
        // the sensor connects within seconds; the list refreshes every 5 s
        await until(async () => (await rows().count()) === 1 && (await firstName()) === 'Sensor 007', 25000, 'the connected sensor');
        if (!(await rows().first().getByText('Connected').count())) throw new Error('no Connected badge');
        await page.getByLabel('Connection').selectOption('disconnected');
        await until(async () => /^299 of 300/.test(await page.textContent('#dev-count')), 3000, '299 disconnected');
        await page.getByLabel('Connection').selectOption('');
    });
    step('sort by name (descending) and by status; the header says how it is sorted', async () => {
        await page.getByRole('button', { name: 'Device name' }).click();
        await until(async () => (await firstName()) === 'Sensor 300', 3000, 'descending by name');
        const sortAttr = await page.locator('th', { has: page.getByRole('button', { name: 'Device name' }) }).getAttribute('aria-sort');
        if (sortAttr !== 'descending') throw new Error(`aria-sort ${sortAttr}`);
        await page.getByRole('button', { name: 'Status', exact: true }).click();
        await until(async () => (await rows().first().locator('td:nth-child(5)').textContent()) === 'Blocked', 3000, 'blocked first by status');
        if (hashParams().get('sort') !== 'status') throw new Error(`address ${page.url()}`);
    });
    step('a reload keeps search, filters, sort and page; Clear filters', async () => {
        await page.getByLabel('Search devices').fill('sensor 1');
        await page.getByLabel('Status').selectOption('registered');
        await page.getByRole('button', { name: 'Device ID' }).click();
        await page.getByRole('button', { name: 'Next page' }).click();
        const before = { url: page.url(), first: await firstName(), info: await info() };
        await page.reload();
        await until(async () => (await info()) === before.info, 8000, `page info ${before.info}`);
        if ((await page.getByLabel('Search devices').inputValue()) !== 'sensor 1') throw new Error('search lost');
        if ((await page.getByLabel('Status').inputValue()) !== 'registered') throw new Error('status filter lost');
        if ((await firstName()) !== before.first || page.url() !== before.url) throw new Error(`after reload: ${await firstName()} ${page.url()}`);
        await page.getByRole('button', { name: 'Clear filters' }).click();
        await until(async () => (await page.textContent('#dev-count')) === `${N} devices`, 5000, 'the list without filters');
        if ((await page.getByLabel('Search devices').inputValue()) !== '' || (await page.getByLabel('Status').inputValue()) !== '') throw new Error('controls not cleared');
        if (hashParams().has('q') || hashParams().has('status')) throw new Error(`address ${page.url()}`);
        await page.goto(`${origin}/#/devices`);
        await until(async () => (await page.textContent('#dev-count')) === `${N} devices`, 5000, 'the plain list');
    });
    step('bulk: select a page, Block (cancel, then confirm), Unblock, Delete', async () => {
        await page.getByLabel('Search devices').fill('dev-29');
        await until(async () => (await rows().count()) === 10, 3000, 'dev-290..299');
        await page.getByLabel('Select all devices on this page').check();
        await until(async () => (await page.textContent('#dev-selected')) === '10 selected', 2000, '10 selected');
        await page.getByRole('button', { name: 'Block selected', exact: true }).click();
        await page.getByRole('dialog', { name: 'Block 10 devices?' }).waitFor();
        await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
        if ((await call('GET', '/api/devices/dev-291')).enabled !== true) throw new Error('blocked after Cancel');
        await page.getByRole('button', { name: 'Block selected', exact: true }).click();
        await page.getByRole('dialog', { name: 'Block 10 devices?' }).getByRole('button', { name: 'Block', exact: true }).click();
        await page.getByRole('status').getByText('10 devices are blocked.').waitFor();
        for (const id of ['dev-290', 'dev-295', 'dev-299']) if ((await call('GET', `/api/devices/${id}`)).enabled) throw new Error(`${id} not blocked`);
        await until(async () => (await page.textContent('#dev-selected')) === 'None selected', 3000, 'the selection cleared');
        if ((await page.evaluate(() => document.activeElement.id)) !== 'select-page') throw new Error('the focus left the list after the bulk action');
        await page.getByLabel('Select Sensor 291').check();
        await page.getByLabel('Select Sensor 292').check();
        await page.getByRole('button', { name: 'Unblock selected' }).click();
        await page.getByRole('dialog', { name: 'Unblock 2 devices?' }).getByRole('button', { name: 'Unblock', exact: true }).click();
        await until(async () => (await call('GET', '/api/devices/dev-292')).enabled === true, 5000, 'dev-292 unblocked');
        if ((await call('GET', '/api/devices/dev-293')).enabled) throw new Error('dev-293 unblocked too');
        await page.getByLabel('Select all devices on this page').check();
        await page.getByRole('button', { name: 'Delete selected' }).click();
        await page.getByRole('dialog', { name: 'Delete 10 devices?' }).getByRole('button', { name: 'Delete', exact: true }).click();
        await until(async () => (await page.textContent('#dev-count')) === `0 of ${N - 10} devices match`, 8000, 'ten deleted');
        const all = await call('GET', '/api/devices?$top=1000');
        if (all.value.length !== N - 10 || all.value.some((d) => d.id.startsWith('dev-29'))) throw new Error(`${all.value.length} devices left`);
        await page.getByLabel('Search devices').fill('');
    });
    step('keyboard: the filters are in reading order', async () => {
        await page.getByLabel('Search devices').focus();
        const order = [];
        for (let i = 0; i < 4; i++) {
            await page.keyboard.press('Tab');
            order.push(await page.evaluate(() => document.activeElement.id));
        }
        if (order.join() !== 'dev-template,dev-status,dev-conn,dev-size') throw new Error(`tab order ${order}`);
    });
    step('1280 px: contrast of every text at least 4.5:1; screenshot', async () => {
        await page.getByLabel('Select Sensor 001').check();
        await page.evaluate(() => document.getElementById('toasts').replaceChildren()); // the shot shows the list
        const low = await lowContrast(page);
        if (low.length) throw new Error(`low contrast: ${JSON.stringify(low.slice(0, 5))}`);
        await page.screenshot({ path: path.join(B, 'screenshots', 'devices-list-1280.png') }); // the first screen
        await page.getByLabel('Select Sensor 001').uncheck();
    });
    step('390 px: name, status and connection on screen, no sideways scrolling; contrast', async () => {
        await page.setViewportSize({ width: 390, height: 844 });
        await page.goto(`${origin}/#/devices?conn=connected`);
        await until(async () => (await rows().count()) === 1, 8000, 'the connected device');
        await page.goto(`${origin}/#/devices`);
        await until(async () => (await rows().count()) === 25, 8000, 'the list');
        const row = rows().first();
        for (const [i, what] of [[2, 'name'], [5, 'status'], [6, 'connection']]) {
            const box = await row.locator(`td:nth-child(${i})`).boundingBox();
            if (!box || box.x < 0 || box.x + box.width > 390) throw new Error(`${what} column off screen: ${JSON.stringify(box)}`);
        }
        if (await row.locator('td:nth-child(3)').isVisible()) throw new Error('the device ID column is still shown at 390 px');
        const w = await page.evaluate(() => document.documentElement.scrollWidth);
        if (w > 392) throw new Error(`page is ${w}px wide`);
        const low = await lowContrast(page);
        if (low.length) throw new Error(`low contrast: ${JSON.stringify(low.slice(0, 5))}`);
        await page.screenshot({ path: path.join(B, 'screenshots', 'devices-list-390.png') });
        await page.setViewportSize({ width: 1280, height: 800 });
    });
    step('no script errors in the page', async () => {
        if (page.errors.length) throw new Error(page.errors.join('; '));
        sensor.kill('SIGTERM');
    });
    return page;
});
