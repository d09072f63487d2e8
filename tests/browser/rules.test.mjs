// The Rules and Alerts pages in headless Chromium, by labels and roles: a webhook URL the server
// refuses is reported naming the field; an administrator creates a rule on a device group from
// the form (temp > -1000, a webhook to a Node receiver on loopback in this test); a running
// environmental-sensor makes it fire once: the rules list counts it, the rule's page shows the
// device fired, the Alerts page lists the alert (acknowledged from there) and the receiver got
// one POST; editing the rule's condition starts the device over (normal). Checked at 1280 and
// 390 px (no sideways scrolling, named controls, contrast); screenshots rules-*.png.
// Ends with "N passed, N failed".
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { lowContrast, unnamedControls } from './a11y.mjs';
import { apiCaller, B, launch, MODEL, runSteps, sleep, spawnTracked, startCentral, until } from './lib.mjs';

const TID = 'dtmi:iotc:example:EnvironmentalSensor;1';

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const got = [];
    const rx = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
            got.push(JSON.parse(body));
            res.end();
        });
    });
    await new Promise((r) => rx.listen(0, '127.0.0.1', r));
    process.on('exit', () => rx.close());
    const hook = `http://127.0.0.1:${rx.address().port}/alerts`;
    const call = apiCaller(app, origin);
    const model = JSON.parse(fs.readFileSync(MODEL, 'utf8'));
    await call('PUT', `/api/deviceTemplates/${encodeURIComponent(TID)}`, { displayName: 'Environmental sensor', capabilityModel: model });
    await call('PUT', '/api/deviceGroups/sensors', { displayName: 'Sensors', filter: `SELECT * FROM devices WHERE $template = "${TID}"` });
    await call('PUT', '/api/devices/rule-1', { displayName: 'Lobby sensor', template: TID });
    const creds = await call('GET', '/api/devices/rule-1/credentials');
    spawnTracked(path.join(B, 'environmental-sensor'), ['--id-scope', creds.idScope, '--device-id', 'rule-1',
        '--device-key', creds.symmetricKey.primaryKey, '--dps-endpoint', `localhost:${app.mqtts}`, '--ca-file', path.join(app.dir, 'ca.pem'),
        '--interval', '1'], { stdio: ['ignore', 'ignore', 'ignore'] });
    const page = await launch();
    const form = () => page.getByRole('form', { name: /rule/ });
    const checkLayout = async (name) => {
        const unnamed = await unnamedControls(page);
        if (unnamed.length) throw new Error(unnamed.join('; '));
        await page.shot(`${name}-1280`);
        await page.setViewportSize({ width: 390, height: 844 });
        await sleep(300);
        await page.shot(`${name}-390`);
        const w = await page.evaluate(() => document.documentElement.scrollWidth);
        const low = await lowContrast(page);
        await page.setViewportSize({ width: 1280, height: 800 });
        if (w > 392) throw new Error(`${name}: the page is ${w}px wide at 390 px`);
        if (low.length) throw new Error(`${name}: low contrast: ${JSON.stringify(low.slice(0, 3))}`);
    };

    step('sign in and open Rules from the navigation', async () => {
        await page.goto(`${origin}/#token=${encodeURIComponent(app.token)}`);
        await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rules' }).click();
        await page.getByRole('heading', { level: 1, name: 'Rules' }).waitFor();
        await page.getByText('No rules yet.').waitFor();
    });

    step('a webhook URL the server refuses is reported naming the field', async () => {
        await form().getByLabel('Rule id').fill('hot');
        await form().getByLabel('Rule name').fill('Lobby check');
        await form().getByLabel('Applies to').selectOption('group');
        await form().getByLabel('Device group').selectOption('sensors');
        await form().getByLabel('Telemetry').fill('temp');
        await form().getByLabel('Operator').selectOption('>');
        await form().getByLabel('Value').fill('-1000');
        await form().getByLabel('Webhook URL (optional)').fill('ftp://nowhere');
        await form().getByRole('button', { name: 'Save rule' }).click();
        const alert = form().getByRole('alert');
        await until(async () => /^The rule was not saved: \$\.actions\[1\]\.url/.test(await alert.textContent()), 5000, 'the refusal');
    });

    step('create the rule; the sensor makes it fire once', async () => {
        await form().getByLabel('Webhook URL (optional)').fill(hook);
        await form().getByRole('button', { name: 'Save rule' }).click();
        const row = page.getByRole('row').filter({ hasText: 'Lobby check' });
        await row.getByText('1 fired').waitFor({ timeout: 30000 });
        const cells = await row.getByRole('cell').allTextContents();
        if (cells[1] !== 'group sensors' || cells[2] !== 'temp > -1000') throw new Error(`row: ${cells.join(' | ')}`);
        await until(async () => got.length >= 1, 10000, 'the webhook POST');
        if (got[0].event !== 'fired' || got[0].deviceId !== 'rule-1' || got[0].ruleId !== 'hot') throw new Error(JSON.stringify(got[0]));
        await checkLayout('rules');
    });

    step("the rule's page shows the device fired", async () => {
        await page.getByRole('link', { name: 'Lobby check' }).click();
        await page.getByRole('heading', { level: 1, name: 'Lobby check' }).waitFor();
        const row = page.getByRole('row').filter({ hasText: 'rule-1' });
        await row.getByText('fired', { exact: true }).waitFor();
    });

    step('the Alerts page lists the alert; acknowledge it', async () => {
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
        await page.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();
        const row = page.getByRole('row').filter({ hasText: 'rule-1' });
        await row.getByText('active', { exact: true }).waitFor();
        await checkLayout('alerts');
        const alerts = await call('GET', '/api/alerts');
        if (alerts.value.length !== 1) throw new Error(`alerts: ${JSON.stringify(alerts.value)}`);
        await row.getByRole('button', { name: `Acknowledge alert ${alerts.value[0].id}` }).click();
        await row.getByRole('cell', { name: 'yes', exact: true }).waitFor();
        const a = await call('GET', `/api/alerts/${alerts.value[0].id}`);
        if (!a.acknowledged) throw new Error('the API does not say acknowledged');
        if (got.filter((m) => m.event === 'fired').length !== 1) throw new Error(`fired ${got.length} times`);
    });

    step('edit the condition: the device starts over and stays normal', async () => {
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rules' }).click();
        await page.getByRole('button', { name: 'Edit rule Lobby check' }).click();
        await page.getByRole('heading', { name: 'Edit rule Lobby check' }).waitFor();
        if ((await form().getByLabel('Telemetry').inputValue()) !== 'temp') throw new Error('the form was not filled');
        await form().getByLabel('Value').fill('100000');
        await form().getByRole('button', { name: 'Save rule' }).click();
        await form().getByText('Rule hot was saved.').waitFor();
        await until(async () => {
            const d = await call('GET', '/api/rules/hot/devices');
            return d.value.length === 1 && d.value[0].state === 'normal';
        }, 10000, 'the device evaluated again, normal');
        const r = await call('GET', '/api/rules/hot');
        if (r.condition.value !== 100000 || r.actions[1].url !== hook) throw new Error(JSON.stringify(r));
        const alerts = await call('GET', '/api/alerts');
        if (alerts.value[0].state !== 'cleared' || alerts.value[0].clearReason !== 'rule changed') throw new Error(JSON.stringify(alerts.value[0]));
        if (page.errors.length) throw new Error(`page errors: ${page.errors.join('; ')}`);
    });
    return page;
});
