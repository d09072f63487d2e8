// The Administration page's enrollment group keys in headless Chromium: an administrator
// regenerates the secondary key (after confirming), sees the new key on the page and the same
// key in the application API, the primary key stays; cancelling changes nothing; a refusal
// from the server is shown in words. Ends with "N passed, N failed"; bounded time.
import { apiGet, launch, runSteps, startCentral } from './lib.mjs';

const GROUP = 'SAS-IoT-Devices';

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const page = await launch();
    const group = async () => (await apiGet(page, origin, app.token, `/api/enrollmentGroups/${GROUP}`)).attestation.symmetricKey;
    let before = null;

    step('the Administration page shows both group keys with a Regenerate button each', async () => {
        await page.goto(`${origin}/#token=${encodeURIComponent(app.token)}`);
        await page.locator('h1', { hasText: 'Devices' }).waitFor();
        await page.goto(`${origin}/#/admin`);
        await page.locator('#group-secondary').waitFor();
        before = await group();
        if (await page.inputValue('#group-primary') !== before.primaryKey) throw new Error('primary key differs from the API');
        if (await page.inputValue('#group-secondary') !== before.secondaryKey) throw new Error('secondary key differs from the API');
        await page.locator('#regen-primary').waitFor();
        await page.locator('#regen-secondary').waitFor();
        await page.shot('30-admin-group-keys');
    });
    step('cancelling the confirmation changes nothing', async () => {
        await page.click('#regen-secondary');
        await page.locator('dialog', { hasText: 'Regenerate the secondary key?' }).waitFor();
        await page.click('dialog button:text-is("Cancel")');
        await page.locator('dialog').waitFor({ state: 'detached' });
        const now = await group();
        if (now.secondaryKey !== before.secondaryKey) throw new Error('the key changed without confirmation');
        if (await page.inputValue('#group-secondary') !== before.secondaryKey) throw new Error('the page shows another key');
    });
    step('regenerate the secondary key: the new key is shown and in force', async () => {
        await page.click('#regen-secondary');
        const dlg = page.locator('dialog', { hasText: 'Regenerate the secondary key?' });
        await dlg.waitFor();
        const text = await dlg.textContent();
        if (!/already registered keep connecting/.test(text)) throw new Error(`dialog does not explain the effect: ${text}`);
        await page.click('dialog button.primary');
        await page.locator('#group-msg.ok').waitFor();
        const shown = await page.inputValue('#group-secondary');
        if (shown === before.secondaryKey) throw new Error('the page still shows the old key');
        if (await page.getAttribute('#group-secondary', 'type') !== 'text') throw new Error('the new key is not shown in clear');
        if (Buffer.from(shown, 'base64').length !== 64) throw new Error(`not a 64-byte key: ${shown}`);
        const now = await group();
        if (now.secondaryKey !== shown) throw new Error('the API has another key than the page');
        if (now.primaryKey !== before.primaryKey) throw new Error('the primary key changed too');
        await page.shot('31-admin-secondary-regenerated');
    });
    step('the new key is still there after reloading the page', async () => {
        const want = (await group()).secondaryKey;
        await page.reload();
        await page.locator('#group-secondary').waitFor();
        if (await page.inputValue('#group-secondary') !== want) throw new Error('reloaded page shows another key');
    });
    step('a refusal from the server is shown in words', async () => {
        await page.route('**/api/enrollmentGroups/*/regenerateKey*', (route) => route.fulfill({
            status: 500,
            contentType: 'application/json',
            headers: { 'x-ms-error-code': 'InternalError' },
            body: JSON.stringify({ error: { code: 'InternalError', message: 'The new key could not be saved; the old key is still in force.' } }),
        }));
        const old = await page.inputValue('#group-primary');
        await page.click('#regen-primary');
        await page.click('dialog button.primary');
        await page.locator('#group-msg.error').waitFor();
        const text = await page.textContent('#group-msg');
        if (!/not regenerated/.test(text) || !/could not be saved/.test(text) || !/500/.test(text)) throw new Error(`message: ${text}`);
        if (await page.inputValue('#group-primary') !== old) throw new Error('the field changed after a failure');
        await page.unroute('**/api/enrollmentGroups/*/regenerateKey*');
        await page.shot('32-admin-regenerate-error');
    });
    step('no script errors in the page', async () => {
        if (page.errors.length) throw new Error(page.errors.join('; '));
    });
    return page;
});
