// The Data export page in headless Chromium, found by labels and roles: a bad webhook URL is
// refused with the server's words naming the field; a webhook destination (a Node receiver on
// loopback inside this test) and a deviceLifecycle export are created through the forms (a jq
// transform that does not compile is refused with jq's words, one that does shapes what arrives); a
// device created and deleted through the API arrives at the receiver (registered, deleted) and
// the page shows the export healthy with 2 delivered and no lag; disable / enable; delete the export and the destination.
// Checked at 1280 and 390 px (no sideways scrolling, contrast, named controls); screenshots
// $IOTC_BUILDDIR/screenshots/exports-{1280,390}.png. Ends with "N passed, N failed".
import http from 'node:http';

import { apiCaller, launch, runSteps, sleep, startCentral, until } from './lib.mjs';
import { lowContrast, unnamedControls } from './a11y.mjs';

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const got = [];
    const rx = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
            got.push({ auth: req.headers.authorization, body: JSON.parse(body) });
            res.end();
        });
    });
    await new Promise((r) => rx.listen(0, '127.0.0.1', r));
    process.on('exit', () => rx.close());
    const hook = `http://127.0.0.1:${rx.address().port}/hook`;
    const call = apiCaller(app, origin);
    const page = await launch();
    const row = (name) => page.getByRole('row').filter({ hasText: name });

    step('sign in and open Data export from the navigation', async () => {
        await page.goto(`${origin}/#token=${encodeURIComponent(app.token)}`);
        await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Data export' }).click();
        await page.getByRole('heading', { level: 1, name: 'Data export' }).waitFor();
        await page.getByText('No exports yet.').waitFor();
    });

    step('a malformed webhook URL is refused with a message naming the field', async () => {
        const form = page.getByRole('form', { name: 'New destination' });
        await form.getByLabel('Destination id').fill('rx');
        await form.getByLabel('Destination name').fill('Loopback receiver');
        await form.getByLabel('Webhook URL').fill('ftp://nowhere');
        await form.getByLabel('Authorization header value').fill('Bearer t0ken');
        await form.getByRole('button', { name: 'Create destination' }).click();
        const alert = form.getByRole('alert');
        await until(async () => /^The destination was not created: url/.test(await alert.textContent()), 5000, 'the refusal');
    });

    step('create the webhook destination and a deviceLifecycle export with an enrichment', async () => {
        const form = page.getByRole('form', { name: 'New destination' });
        await form.getByLabel('Webhook URL').fill(hook);
        await form.getByRole('button', { name: 'Create destination' }).click();
        await row('Loopback receiver').getByText('webhook@v1').waitFor();
        const xf = page.getByRole('form', { name: 'New export' });
        await xf.getByLabel('Export id').fill('life');
        await xf.getByLabel('Export name').fill('Lifecycle to receiver');
        await xf.getByLabel('Source').selectOption('deviceLifecycle');
        await xf.getByLabel('Destination').selectOption('rx');
        await xf.getByLabel('Enrichments (optional)').fill('site: Berlin');
        await xf.getByLabel('Transform (optional)').fill('{a: .b');
        await xf.getByRole('button', { name: 'Create export' }).click();
        await until(async () => /destinations\[0\]\.transform: syntax error/.test(await xf.getByRole('alert').textContent()),
            10000, 'the transform refused with jq\'s message');
        await xf.getByLabel('Transform (optional)').fill('{messageSource, messageType, deviceId, enrichments, transformed: true}');
        await xf.getByRole('button', { name: 'Create export' }).click();
        await row('Lifecycle to receiver').waitFor();
    });

    step('a device created and deleted reaches the receiver; the page shows healthy, 2 delivered, no lag', async () => {
        await call('PUT', '/api/devices/ex-1', { displayName: 'ex 1' });
        await call('DELETE', '/api/devices/ex-1');
        await until(async () => got.length >= 2, 15000, 'the messages at the receiver');
        const types = got.map((m) => m.body.messageType).join(',');
        if (types !== 'registered,deleted') throw new Error(`message types: ${types}`);
        for (const m of got) {
            if (m.auth !== 'Bearer t0ken') throw new Error(`authorization header: ${m.auth}`);
            if (m.body.messageSource !== 'deviceLifecycle' || m.body.deviceId !== 'ex-1'
                || m.body.enrichments?.site !== 'Berlin' || m.body.transformed !== true
                || m.body.applicationId !== undefined) throw new Error(`message: ${JSON.stringify(m.body)}`);
        }
        const r = row('Lifecycle to receiver');
        await until(async () => {
            const cells = await r.getByRole('cell').allTextContents();
            return cells[2] === 'healthy' && cells[3] === '0 messages, 0 s' && cells[4] === '2';
        }, 15000, 'healthy, no lag and 2 delivered in the row');
    });

    step('1280 and 390 px: named controls, contrast, no sideways scrolling', async () => {
        const unnamed = await unnamedControls(page);
        if (unnamed.length) throw new Error(unnamed.join('; '));
        await page.shot('exports-1280');
        await page.setViewportSize({ width: 390, height: 844 });
        await sleep(300);
        await page.shot('exports-390');
        const w = await page.evaluate(() => document.documentElement.scrollWidth);
        const low = await lowContrast(page);
        await page.setViewportSize({ width: 1280, height: 800 });
        if (w > 392) throw new Error(`the page is ${w}px wide at 390 px`);
        if (low.length) throw new Error(`low contrast: ${JSON.stringify(low.slice(0, 3))}`);
    });

    step('disable, then enable the export', async () => {
        await page.getByRole('button', { name: 'Disable export Lifecycle to receiver' }).click();
        await row('Lifecycle to receiver').getByText('disabled', { exact: true }).waitFor();
        const x = await call('GET', '/api/dataExport/exports/life?api-version=2022-10-31-preview');
        if (x.enabled !== false) throw new Error(`the API says enabled=${x.enabled}`);
        await page.getByRole('button', { name: 'Enable export Lifecycle to receiver' }).click();
        await row('Lifecycle to receiver').getByRole('button', { name: 'Disable export Lifecycle to receiver' }).waitFor();
    });

    step('delete the export, then the destination (after confirming)', async () => {
        await page.getByRole('button', { name: 'Delete export Lifecycle to receiver' }).click();
        await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
        await page.getByText('No exports yet.').waitFor();
        await page.getByRole('button', { name: 'Delete destination Loopback receiver' }).click();
        await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
        await page.getByText('No destinations yet', { exact: false }).waitFor();
        const d = await call('GET', '/api/dataExport/destinations?api-version=2022-10-31-preview');
        if (d.value.length !== 0) throw new Error(`destinations left: ${JSON.stringify(d.value)}`);
        if (page.errors.length) throw new Error(`page errors: ${page.errors.join('; ')}`);
    });
    return page;
});
