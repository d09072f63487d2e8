// The Device groups and Jobs pages in headless Chromium, by labels and roles, at 1280 and
// 390 px: an administrator creates a group from the template + provisioned form and sees its
// devices; a raw filter with an unsupported part is refused in words; a property job started
// from the Jobs page completes with each device's status; the dashboard's group chart tile
// charts the group's devices. Screenshots fleet-*.png. Ends with "N passed, N failed".
import fs from 'node:fs';
import { MODEL, apiGet, launch, runSteps, startCentral, until } from './lib.mjs';

const TID = 'dtmi:iotc:example:EnvironmentalSensor;1';

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const page = await launch();
    const call = async (method, p, body) => {
        const res = await page.request.fetch(`${origin}${p}?api-version=2022-07-31`, {
            method, headers: { Authorization: app.token, 'Content-Type': 'application/json' }, data: body,
        });
        if (res.status() >= 300) throw new Error(`${method} ${p}: ${res.status()} ${await res.text()}`);
        return res.json().catch(() => null);
    };
    const narrow = async (name) => {
        await page.setViewportSize({ width: 390, height: 844 });
        await page.shot(`fleet-${name}-390`);
        const w = await page.evaluate(() => document.documentElement.scrollWidth);
        await page.setViewportSize({ width: 1280, height: 800 });
        if (w > 392) throw new Error(`${name}: the page is ${w}px wide at 390 px`);
    };

    step('setup: a template and three devices of it', async () => {
        const model = JSON.parse(fs.readFileSync(MODEL, 'utf8'));
        await call('PUT', `/api/deviceTemplates/${encodeURIComponent(TID)}`, { displayName: 'Environmental sensor', capabilityModel: model });
        for (const id of ['fl-1', 'fl-2', 'fl-3']) await call('PUT', `/api/devices/${id}`, { displayName: `Sensor ${id}`, template: TID });
        await call('PUT', '/api/devices/other', { displayName: 'Other' });
        await page.goto(`${origin}/#token=${encodeURIComponent(app.token)}`);
        await page.locator('h1', { hasText: 'Devices' }).waitFor();
    });
    step('create a device group with the template form; it lists its devices', async () => {
        await page.getByRole('link', { name: 'Device groups', exact: true }).click();
        await page.getByRole('heading', { name: 'Device groups', level: 1 }).waitFor();
        await page.getByLabel('Group id').fill('sensors');
        await page.getByLabel('Display name').fill('All sensors');
        await page.getByLabel('Template', { exact: true }).selectOption(TID);
        await page.getByRole('button', { name: 'Create group' }).click();
        await page.getByRole('link', { name: 'All sensors' }).waitFor();
        const g = await apiGet(page, origin, app.token, '/api/deviceGroups/sensors');
        if (g.filter !== `SELECT * FROM devices WHERE $template = "${TID}"`) throw new Error(`filter: ${g.filter}`);
        await page.shot('fleet-groups');
        await narrow('groups');
        await page.getByRole('link', { name: 'All sensors' }).click();
        await page.getByRole('heading', { name: 'Devices (3)' }).waitFor();
        for (const id of ['fl-1', 'fl-2', 'fl-3']) await page.getByRole('link', { name: `Sensor ${id}` }).waitFor();
        if (await page.getByRole('link', { name: 'Other' }).count()) throw new Error('a device of no template is listed');
    });
    step('a raw filter with an unsupported part is refused in words', async () => {
        await page.getByRole('link', { name: 'Device groups', exact: true }).click();
        await page.getByLabel('Group id').fill('bad');
        await page.getByLabel('Filter (instead of the two conditions)').fill('SELECT * FROM devices WHERE $status = "x"');
        await page.getByRole('button', { name: 'Create group' }).click();
        const alert = page.locator('#dg-form [role=alert]');
        await alert.filter({ hasText: 'unsupported field' }).waitFor();
        if (!/\$status/.test(await alert.textContent())) throw new Error('the message does not name $status');
    });
    step('start a property job on the group; it completes with each device\'s status', async () => {
        await page.getByRole('link', { name: 'Jobs', exact: true }).click();
        await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
        await page.getByLabel('Job id').fill('dim');
        await page.getByLabel('Device group').selectOption('sensors');
        await page.getByLabel('Template').selectOption(TID);
        await page.getByLabel('Kind').selectOption('property');
        await page.getByLabel('Property or command name').fill('brightness');
        await page.getByLabel('Value or request (JSON, or text)').fill('2');
        await page.getByLabel('Devices at once').fill('2');
        await page.getByRole('button', { name: 'Start job' }).click();
        await page.getByRole('cell', { name: '3 of 3 done' }).waitFor();
        const j = await apiGet(page, origin, app.token, '/api/jobs/dim');
        if (j.status !== 'complete' || j.batch.value !== 2) throw new Error(`job: ${JSON.stringify(j)}`);
        await page.shot('fleet-jobs');
        await narrow('jobs');
        await page.getByRole('link', { name: 'dim' }).click();
        await page.getByRole('heading', { name: 'Job dim' }).waitFor();
        await until(async () => (await page.getByRole('cell', { name: 'completed', exact: true }).count()) === 3, 5000, 'three completed devices');
        const d = await apiGet(page, origin, app.token, '/api/devices/fl-2/properties');
        if (d.brightness !== 2) throw new Error(`fl-2 brightness: ${JSON.stringify(d)}`);
    });
    step('the dashboard\'s group chart tile charts the group\'s devices', async () => {
        await call('PUT', '/api/dashboards/home', { tiles: [{ type: 'groupChart', displayName: 'Sensors', group: 'sensors', telemetry: 'temp' }] });
        await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
        await page.getByRole('heading', { name: 'Sensors' }).waitFor();
        await page.getByText('3 of 3 devices of group sensors').waitFor();
    });
    return page;
});
