// The fleet views of issue 17 this file covers, as an operator sees and uses them (labels,
// roles, visible text), at 1280 and 390 px:
// - charts: the x axis spans the chosen range (Past 30 minutes shows 30 minutes although the
//   data covers 10), points are the server's buckets (GET .../series, avg/min/max), a week too;
// - raw data: newest first in pages (Load older messages, the server's cursor) past 500 rows,
//   the whole message in a row's details (application and system properties, payload, errors),
//   export of what the view holds as CSV and JSON;
// - views editing in the template editor: rename a view, add, reorder and remove tiles (line
//   chart, last known value, property, command), saved with the template and in its export;
//   the device page then shows the edited dashboard;
// - accessibility basics of the new UI: names of controls, focus after reordering, contrast.
// Screenshots: $IOTC_BUILDDIR/screenshots/views-*-1280.png and views-*-390.png.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { lowContrast, unnamedControls } from './a11y.mjs';
import { apiCaller, B, launch, MODEL, runSteps, SHOTS, sleep, spawnTracked, startCentral, until } from './lib.mjs';

const TPL = 'dtmi:iotc:example:EnvironmentalSensor;1';
const DEV = 'view-1';
const ROWS = 1200; // stored messages of the past 10 minutes, one every 500 ms

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const call = apiCaller(app, origin);
    const tplPath = `/api/deviceTemplates/${encodeURIComponent(TPL)}`;
    const model = JSON.parse(fs.readFileSync(MODEL, 'utf8'));
    await call('PUT', tplPath, {
        displayName: 'Environmental sensor',
        capabilityModel: model,
        views: [
            {
                id: 'overview', displayName: 'Overview', type: 'dashboard', tiles: [
                    { displayName: 'Temperature', type: 'lineChart', capabilities: [{ component: '', name: 'temp' }] },
                    { displayName: 'Humidity', type: 'lineChart', capabilities: [{ component: '', name: 'humid' }] },
                ],
            },
            { id: 'about', displayName: 'About', type: 'form', readOnly: true, sections: [{ displayName: 'Properties', fields: [{ component: '', name: 'swVersion' }] }] },
        ],
    });
    await call('POST', `${tplPath}/publish`, {});
    await call('PUT', `/api/devices/${DEV}`, { displayName: 'View sensor', template: TPL });
    // The past 10 minutes of a busy device, written into the server's store (the C tests send
    // messages over MQTT; here the point is what the pages make of many rows).
    const now = Date.now();
    execFileSync('sqlite3', [path.join(app.dir, 'central.db'), `PRAGMA busy_timeout=10000;
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS - 1})
        INSERT INTO telemetry(device_id, enqueued_ms, component, props, payload)
        SELECT '${DEV}', ${now - 600000} + i * 500, NULL,
               '{"$.ct":"application/json","$.ce":"utf-8","$.mid":"m' || i || '","batch":"b' || (i / 100) || '"}',
               CAST(json_object('temp', 60 + (i % 40) * 0.5, 'humid', 40 + (i % 7)) AS BLOB) FROM n;`]);

    const page = await launch();
    const go = (hash) => page.evaluate((x) => { location.hash = x; }, hash);
    // full: the whole page; else what is on screen (a page of 1200 rows makes a 4 MB picture)
    const shot = (file, full) => (full ? page.shot(file) : page.screenshot({ path: path.join(SHOTS, `${file}.png`) }));
    const shots = async (name, { full = true, at } = {}) => {
        if (at) await at.evaluate((el) => el.scrollIntoView({ block: 'start' }));
        await shot(`views-${name}-1280`, full);
        await page.setViewportSize({ width: 390, height: 844 });
        await sleep(400);
        if (at) await at.evaluate((el) => el.scrollIntoView({ block: 'start' }));
        await shot(`views-${name}-390`, full);
        const w = await page.evaluate(() => document.documentElement.scrollWidth);
        const names = await unnamedControls(page);
        const low = await lowContrast(page);
        await page.setViewportSize({ width: 1280, height: 800 });
        await sleep(300);
        if (w > 392) throw new Error(`${name}: the page is ${w}px wide at 390 px`);
        if (names.length) throw new Error(`${name} at 390 px: ${names.join('; ')}`);
        if (low.length) throw new Error(`${name} at 390 px, contrast below 4.5:1: ${JSON.stringify(low.slice(0, 5))}`);
    };
    const a11y = async (what) => {
        const names = await unnamedControls(page);
        const low = await lowContrast(page);
        if (names.length) throw new Error(`${what}: ${names.join('; ')}`);
        if (low.length) throw new Error(`${what}, contrast below 4.5:1: ${JSON.stringify(low.slice(0, 5))}`);
    };
    const download = async (button) => {
        const [dl] = await Promise.all([page.waitForEvent('download'), button.click()]);
        return { name: dl.suggestedFilename(), text: fs.readFileSync(await dl.path(), 'utf8') };
    };
    const dataRows = () => page.getByRole('table').getByRole('row').filter({ has: page.getByRole('button', { name: /^Details of/ }) });
    let sensor = null;

    step('sign in', async () => {
        await page.goto(`${origin}/#token=${encodeURIComponent(app.token)}`);
        await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
    });

    step('raw data: newest first, 200 at a time, Load older messages reaches every stored row', async () => {
        await go(`#/devices/${DEV}/rawdata`);
        const status = page.getByRole('status').filter({ hasText: /messages?/ });
        await until(async () => /200 messages shown, older ones not loaded yet/.test(await status.textContent()), 10000, 'the first page');
        if ((await dataRows().count()) !== 200) throw new Error(`${await dataRows().count()} rows on the first page`);
        const more = page.getByRole('button', { name: 'Load older messages' });
        for (let i = 0; i < 10 && (await more.isVisible()); i++) {
            const n = await dataRows().count();
            await more.click();
            await until(async () => (await dataRows().count()) > n, 10000, 'the next page');
        }
        if (await more.isVisible()) throw new Error('Load older messages is still offered');
        const n = await dataRows().count();
        if (n !== ROWS) throw new Error(`${n} rows shown, ${ROWS} stored`);
        if (!/^1200 messages$/.test((await status.textContent()).trim())) throw new Error(`status: ${await status.textContent()}`);
        const times = await page.locator('table.raw time').evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute('datetime'))));
        for (let i = 1; i < times.length; i++) if (times[i] > times[i - 1]) throw new Error(`row ${i + 1} is newer than row ${i}`);
    });

    step('raw data: a row opens into the whole message (properties, system properties, payload)', async () => {
        const first = dataRows().first();
        const toggle = first.getByRole('button', { name: /^Details of the telemetry message/ });
        await toggle.click();
        if ((await toggle.getAttribute('aria-expanded')) !== 'true') throw new Error('the toggle does not say it is expanded');
        const region = page.getByRole('region', { name: /^Details of the telemetry message/ }).first();
        await region.waitFor();
        for (const h of ['Application properties', 'System properties', 'Payload']) {
            if (!(await region.getByRole('heading', { name: h }).count())) throw new Error(`no ${h} in the details`);
        }
        const text = await region.textContent();
        if (!/"batch": "b11"/.test(text)) throw new Error(`application property missing: ${text}`);
        if (!/"\$\.mid": "m1199"/.test(text)) throw new Error(`system property missing: ${text}`);
        if (!/Valid against the template: no errors\./.test(text)) throw new Error(`no validation line: ${text}`);
        if (/"batch"[^}]*\$\.ct/.test(text.split('System properties')[0] || '')) throw new Error('system properties among the application ones');
        // the focus stays on the toggle after the redraw
        const focused = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('aria-label'));
        if (!/^Details of the telemetry message/.test(focused || '')) throw new Error(`focus on ${focused}`);
        await a11y('raw data');
        await shots('raw', { full: false, at: page.getByRole('button', { name: 'Export JSON' }) });
    });

    step('raw data: export CSV and JSON of what the view holds', async () => {
        const csv = await download(page.getByRole('button', { name: 'Export CSV' }));
        if (!/^view-1-raw-data-.*\.csv$/.test(csv.name)) throw new Error(`CSV file name ${csv.name}`);
        const lines = csv.text.trimEnd().split('\r\n');
        const head = lines[0].split(',');
        if (head[0] !== 'Time' || !head.includes('Temperature') || !head.includes('Errors')) throw new Error(`CSV header: ${lines[0]}`);
        if (lines.length !== ROWS + 1) throw new Error(`${lines.length - 1} CSV rows, ${ROWS} shown`);
        const tcol = head.indexOf('Temperature');
        const newest = lines[1].split(',');
        if (Number(newest[tcol]) !== 60 + ((ROWS - 1) % 40) * 0.5) throw new Error(`newest CSV row: ${lines[1]}`);
        const json = await download(page.getByRole('button', { name: 'Export JSON' }));
        const arr = JSON.parse(json.text);
        if (!Array.isArray(arr) || arr.length !== ROWS) throw new Error(`JSON export holds ${arr.length} items`);
        if (arr[0].messageProperties['$.mid'] !== `m${ROWS - 1}` || arr[0].payload.temp === undefined) throw new Error(`JSON export's first item: ${JSON.stringify(arr[0])}`);
    });

    step('start the environmental sensor', async () => {
        const creds = await call('GET', `/api/devices/${DEV}/credentials`);
        sensor = spawnTracked(path.join(B, 'environmental-sensor'), ['--id-scope', creds.idScope, '--device-id', DEV,
            '--device-key', creds.symmetricKey.primaryKey, '--dps-endpoint', `localhost:${app.mqtts}`,
            '--ca-file', path.join(app.dir, 'ca.pem'), '--interval', '1', '--name-delay', '200'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        sensor.stdout.on('data', (d) => (out += d));
        sensor.stderr.on('data', (d) => (out += d));
        await until(async () => (await call('GET', `/api/devices/${DEV}`)).connected, 20000, `the sensor to connect (${out.slice(-300)})`);
    });

    const tile = (name) => page.locator('section.tile', { has: page.getByRole('heading', { level: 2, name }) });
    const span = async (name) => {
        const d = await tile(name).evaluate((el) => ({ min: Number(el.dataset.xMin), max: Number(el.dataset.xMax), points: Number(el.dataset.points) }));
        return { ...d, seconds: d.max - d.min };
    };

    step('charts: Past 30 minutes spans 30 minutes though the data covers 10, from the series endpoint', async () => {
        const [req] = await Promise.all([
            page.waitForRequest((r) => /\/telemetry\/temp\/series\?/.test(r.url())),
            go(`#/devices/${DEV}/overview`),
        ]);
        const u = new URL(req.url());
        if (u.searchParams.get('agg') !== 'avg') throw new Error(`agg=${u.searchParams.get('agg')}`);
        const buckets = Number(u.searchParams.get('buckets'));
        await until(async () => (await span('Temperature')).points > 0, 10000, 'points on the chart');
        const s = await span('Temperature');
        if (Math.abs(s.seconds - 1800) > 5) throw new Error(`the x axis spans ${s.seconds} s`);
        if (s.points > buckets + 60) throw new Error(`${s.points} points for ${buckets} buckets`);
        const line = await tile('Temperature').locator('.agg').textContent();
        if (!/^Past 30 minutes, average of every [\d.]+ s$/.test(line)) throw new Error(`aggregation line: "${line}"`);
        // live messages are added as they come
        const p0 = (await span('Temperature')).points;
        await until(async () => (await span('Temperature')).points > p0, 8000, 'a live point');
    });

    step('charts: Past week with Maximum: a week wide, at most one point per bucket', async () => {
        await page.getByLabel('Time range').selectOption({ label: 'Past week' });
        const [req] = await Promise.all([
            page.waitForRequest((r) => /\/telemetry\/temp\/series\?/.test(r.url()) && /agg=max/.test(r.url())),
            page.getByLabel('Aggregation').selectOption({ label: 'Maximum' }),
        ]);
        const u = new URL(req.url());
        const days = (Date.parse(u.searchParams.get('to')) - Date.parse(u.searchParams.get('from'))) / 86400e3;
        if (days !== 7) throw new Error(`asked for ${days} days`);
        await until(async () => /^Past week, maximum of every [\d.]+ min$/.test(await tile('Temperature').locator('.agg').textContent()), 8000, 'the aggregation line');
        const s = await span('Temperature');
        if (Math.abs(s.seconds - 7 * 86400) > 5) throw new Error(`the x axis spans ${s.seconds} s`);
        // the stored 10 minutes fall into a bucket or two of 25 min; live points come on top
        if (s.points < 1 || s.points > 20) throw new Error(`${s.points} points`);
        const series = await call('GET', `${u.pathname}${u.search.replace(/&?api-version=[^&]*/, '')}`);
        if (series.value.length > Number(u.searchParams.get('buckets'))) throw new Error('more points than buckets');
        // buckets of 25 minutes: live messages make the page ask for the buckets again (at most every 10 s)
        await page.waitForRequest((r) => /\/telemetry\/temp\/series\?/.test(r.url()) && /agg=max/.test(r.url()), { timeout: 15000 });
        await a11y('charts');
        await page.getByLabel('Time range').selectOption({ label: 'Past 30 minutes' });
        await until(async () => Math.abs((await span('Temperature')).seconds - 1800) <= 5, 8000, 'back to 30 minutes');
        await sleep(500);
        await shots('charts');
    });

    step('raw data: live messages come in at the top, the older pages still follow', async () => {
        await go(`#/devices/${DEV}/rawdata`);
        const status = page.getByRole('status').filter({ hasText: /messages?/ });
        await until(async () => /^\d+ messages shown/.test(await status.textContent()), 10000, 'the first page');
        const n0 = await dataRows().count();
        await until(async () => (await dataRows().count()) > n0, 10000, 'a live message');
        const first = await dataRows().first().textContent();
        if (!/telemetry|property|connected/.test(first)) throw new Error(`first row: ${first}`);
        // every message of the range, oldest first, as the API pages it (taken before the page's last pages)
        let total = 0;
        for (let next = `/api/devices/${DEV}/rawData?$top=1000&from=${encodeURIComponent(new Date(Date.now() - 1800e3).toISOString())}`; next;) {
            const pg = await call('GET', next);
            total += pg.value.length;
            next = pg.nextLink ? (({ pathname, search }) => `${pathname}${search.replace(/[?&]api-version=[^&]*/, '').replace(/^&/, '?')}`)(new URL(pg.nextLink)) : null;
        }
        if (total < ROWS) throw new Error(`the API pages hold ${total} messages`);
        const more = page.getByRole('button', { name: 'Load older messages' });
        for (let i = 0; i < 12 && (await more.isVisible()); i++) {
            const n = await dataRows().count();
            await more.click();
            await until(async () => (await dataRows().count()) > n, 10000, 'the next page');
        }
        const n = await dataRows().count();
        if (n < total) throw new Error(`${n} rows shown, the API had ${total}`);
        const ids = await page.locator('table.raw time').evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime')));
        for (let i = 1; i < ids.length; i++) if (Date.parse(ids[i]) > Date.parse(ids[i - 1])) throw new Error(`row ${i + 1} is newer than row ${i}`);
    });

    step('views editing: rename a view, add, reorder and remove tiles, save', async () => {
        await go(`#/templates/${encodeURIComponent(TPL)}`);
        await page.getByRole('button', { name: 'Edit view Overview' }).click();
        const editor = page.getByRole('region', { name: 'Edit view: Overview' });
        await editor.waitFor();
        const focused = await page.evaluate(() => document.activeElement.id);
        if (focused !== 'view-name') throw new Error(`focus on #${focused} after Edit`);
        await editor.getByLabel('View name').fill('Fleet health');
        // a property tile and a command tile
        await editor.getByLabel('Tile type').selectOption({ label: 'Property' });
        await editor.getByLabel('Capability').selectOption({ label: 'Customer Name' });
        await editor.getByLabel('Tile name', { exact: true }).fill('Customer');
        await editor.getByRole('button', { name: 'Add tile' }).click();
        await editor.getByLabel('Tile type').selectOption({ label: 'Command' });
        await editor.getByLabel('Capability').selectOption({ label: 'Turn on' });
        await editor.getByRole('button', { name: 'Add tile' }).click();
        await editor.getByLabel('Tile type').selectOption({ label: 'Last known value' });
        await editor.getByLabel('Capability').selectOption({ label: 'Humidity' });
        await editor.getByLabel('Tile name', { exact: true }).fill('Humidity now');
        await editor.getByRole('button', { name: 'Add tile' }).click();
        // reorder with the keyboard: Customer up twice; the focus follows the tile
        const up = editor.getByRole('button', { name: 'Move Customer up' });
        await up.focus();
        await page.keyboard.press('Enter');
        const after = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
        if (after !== 'Move Customer up') throw new Error(`focus on "${after}" after moving`);
        await page.keyboard.press('Enter');
        await editor.getByRole('button', { name: 'Remove Humidity', exact: true }).click();
        const names = await editor.getByRole('table').locator('tbody input').evaluateAll((xs) => xs.map((x) => x.value));
        const want = ['Customer', 'Temperature', 'Turn on', 'Humidity now'];
        if (JSON.stringify(names) !== JSON.stringify(want)) throw new Error(`tiles ${JSON.stringify(names)}`);
        await a11y('the view editor');
        await shots('editor', { full: false, at: editor.getByRole('heading', { name: /^Edit view/ }) });
        await editor.getByRole('button', { name: 'Save view' }).click();
        await page.getByRole('status').filter({ hasText: 'View Fleet health saved.' }).waitFor();
        const tpl = await call('GET', tplPath);
        const v = tpl.views.find((x) => x.id === 'overview');
        if (v.displayName !== 'Fleet health') throw new Error(`saved name ${v.displayName}`);
        const saved = v.tiles.map((t) => `${t.displayName}:${t.type}:${t.capabilities[0].name}`);
        const wantSaved = ['Customer:property:name', 'Temperature:lineChart:temp', 'Turn on:command:turnon', 'Humidity now:lastKnownValue:humid'];
        if (JSON.stringify(saved) !== JSON.stringify(wantSaved)) throw new Error(`saved tiles ${JSON.stringify(saved)}`);
    });

    step('views editing: the export holds the edited view; a refused change keeps the editor', async () => {
        const exp = await download(page.getByRole('button', { name: 'Export' }));
        const doc = JSON.parse(exp.text);
        const v = doc.views.find((x) => x.id === 'overview');
        if (!v || v.displayName !== 'Fleet health' || v.tiles.length !== 4 || v.tiles[0].type !== 'property') throw new Error(`exported view: ${JSON.stringify(v)}`);
        // the export imports back unchanged
        await call('PUT', tplPath, doc);
        // an empty tile name is refused in words, nothing is saved
        // the editor stays open after a save, now named as saved
        const editor = page.getByRole('region', { name: 'Edit view: Fleet health' });
        await editor.waitFor();
        if ((await page.getByRole('button', { name: 'Edit view Fleet health' }).getAttribute('aria-expanded')) !== 'true') throw new Error('Edit does not say it is open');
        await editor.getByLabel('Name of tile 1').fill(' ');
        await editor.getByRole('button', { name: 'Save view' }).click();
        await editor.getByRole('alert').filter({ hasText: 'Every tile needs a name.' }).waitFor();
        await editor.getByRole('button', { name: 'Close without saving' }).click();
        if (await page.getByRole('region', { name: /^Edit view/ }).count()) throw new Error('the editor is still open');
    });

    step('the device shows the edited dashboard: property, chart, command and value tiles in order', async () => {
        await call('PATCH', `/api/devices/${DEV}/properties`, { name: 'Contoso' });
        await go(`#/devices/${DEV}/overview`);
        await page.getByRole('link', { name: 'Fleet health' }).waitFor();
        const heads = await page.locator('section.tile h2').allTextContents();
        if (JSON.stringify(heads) !== JSON.stringify(['Customer', 'Temperature', 'Turn on', 'Humidity now'])) throw new Error(`tiles ${JSON.stringify(heads)}`);
        const prop = tile('Customer');
        await until(async () => (await prop.locator('.bigvalue').textContent()) === 'Contoso', 10000, 'the Customer Name value');
        await until(async () => /^Synced/.test(await prop.locator('.muted').textContent()), 10000, `the sync state (${await prop.locator('.muted').textContent()})`);
        await a11y('the edited dashboard');
        await until(async () => (await page.locator('.toast').count()) === 0, 8000, 'the notifications to go');
        await shots('dashboard');
    });

    step('no script errors in the page', async () => {
        if (page.errors.length) throw new Error(page.errors.join('; '));
    });

    return page;
});
