// The web UI over plain HTTP on loopback with an operator token handed over in the address
// fragment: what an operator may not do is refused with the server's words, an offline
// device's command failure and an unassociated device's missing conformance report are
// explained, and a revoked token brings the sign-in page back with the reason.
import fs from 'node:fs';
import { apiCaller, launch, MODEL, runSteps, startCentral, until } from './lib.mjs';

const TPL = 'dtmi:iotc:example:EnvironmentalSensor;1';

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const call = apiCaller(app, origin);
    const model = JSON.parse(fs.readFileSync(MODEL, 'utf8'));
    await call('PUT', `/api/deviceTemplates/${encodeURIComponent(TPL)}`, { capabilityModel: model });
    await call('POST', `/api/deviceTemplates/${encodeURIComponent(TPL)}/publish`, {});
    await call('PUT', '/api/devices/offline-1', { displayName: 'Offline sensor', template: TPL });
    await call('PUT', '/api/devices/loose-1', { displayName: 'Unassociated device' });
    const ops = await call('PUT', '/api/apiTokens/ops1', { roles: [{ role: 'operator' }] });
    const page = await launch();

    step('sign in through the address fragment; the token leaves the address', async () => {
        await page.goto(`${origin}/#token=${encodeURIComponent(ops.token)}`);
        await page.locator('h1', { hasText: 'Devices' }).waitFor();
        if (page.url().includes('token=')) throw new Error(`token still in the address: ${page.url()}`);
        if (!/operator/.test(await page.textContent('#who'))) throw new Error('role not shown');
        await page.locator('tr[data-device="offline-1"]').waitFor();
        if (!(await page.locator('tr[data-device="loose-1"]', { hasText: 'Unassigned' }).count())) throw new Error('unassociated device');
        if (!(await page.locator('tr[data-device="loose-1"]', { hasText: 'Unassociated' }).count())) throw new Error('status Unassociated');
    });
    step('an operator cannot publish: the refusal is shown in words', async () => {
        await page.goto(`${origin}/#/templates/${encodeURIComponent(TPL)}`);
        await page.click('#publish');
        await page.click('dialog button.primary');
        const alert = page.locator('#alerts .alert.error');
        await alert.waitFor();
        const text = await alert.textContent();
        if (!/administrator role/.test(text) || !/403/.test(text)) throw new Error(`alert: ${text}`);
        await page.shot('20-operator-forbidden');
    });
    step('a command to an offline device explains why it failed', async () => {
        await page.goto(`${origin}/#/devices/offline-1/commands`);
        await page.fill('#cmd-blink-req', '3');
        await page.click('#run-blink');
        await until(async () => /not connected/.test(await page.textContent('#cmd-blink-result')), 8000, 'the offline message');
        const text = await page.textContent('#cmd-blink-result');
        if (!/DeviceNotConnected/.test(text)) throw new Error(`result: ${text}`);
        await page.shot('21-command-offline');
    });
    step('an unassociated device: no commands, conformance explained', async () => {
        await page.goto(`${origin}/#/devices/loose-1/commands`);
        await page.locator('.panel', { hasText: 'no template' }).waitFor();
        await page.click('#tab-conformance');
        await page.locator('.panel .msg.error', { hasText: 'no template' }).waitFor();
        await page.shot('22-unassociated');
    });
    step('administration for an operator: no group keys, no tokens', async () => {
        await page.goto(`${origin}/#/admin`);
        await page.locator('#admin-scope').waitFor();
        if (await page.locator('#group-primary').count()) throw new Error('group keys shown to an operator');
        await page.locator('text=Only administrators manage API tokens').waitFor();
    });
    step('a revoked token brings back the sign-in page with the reason', async () => {
        await call('DELETE', '/api/apiTokens/ops1');
        await page.goto(`${origin}/#/devices`);
        await page.locator('#signin-form .msg.error').waitFor();
        const text = await page.textContent('#signin-form .msg.error');
        if (!/sign in again/i.test(text)) throw new Error(`message: ${text}`);
        await page.shot('23-signed-out');
    });
    step('no script errors in the page', async () => {
        if (page.errors.length) throw new Error(page.errors.join('; '));
    });
    return page;
});
