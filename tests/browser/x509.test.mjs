// X.509 in the web UI, in headless Chromium, found by labels and roles: the Administration page
// creates an X.509 enrollment group, uploads its CA certificate (unverified), generates a
// verification code, uploads the proof made by `iotc-central certs verify-code` and shows the
// CA verified (the API agrees); a wrong proof is refused in words. A device's Connect dialog
// takes a client certificate and shows its SHA-1 thumbprint (the API and node's crypto agree);
// reopened, it shows the X.509 facts instead of keys. At 1280 and 390 px (no sideways
// scrolling). Screenshots: $IOTC_BUILDDIR/screenshots/x509-{admin,connect}-{1280,390}.png.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { B, apiGet, launch, runSteps, startCentral, tmpDir } from './lib.mjs';

await runSteps(async (step) => {
    const app = await startCentral();
    const origin = `http://127.0.0.1:${app.http}`;
    const page = await launch();
    const certsDir = tmpDir('iotc-x509-ui-');
    const certs = (...args) => {
        const r = spawnSync(path.join(B, 'iotc-central'), ['certs', ...args], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`certs ${args.join(' ')}: ${r.stderr}`);
    };
    const sha1 = (file) => new crypto.X509Certificate(fs.readFileSync(file)).fingerprint.replace(/:/g, '').toLowerCase();
    const noSideways = async (what) => {
        const w = await page.evaluate(() => document.documentElement.scrollWidth);
        if (w > 390) throw new Error(`${what}: page is ${w} px wide at 390 px`);
    };
    certs('root', '--out', path.join(certsDir, 'root'));
    certs('device', '--id', 'ui-x509', '--out', certsDir);
    const rootPem = path.join(certsDir, 'root', 'root.pem');
    const group = page.locator('.x509-group', { hasText: '(fleet)' });

    step('Administration: create an X.509 group and upload its CA (unverified)', async () => {
        await page.goto(`${origin}/#token=${encodeURIComponent(app.token)}`);
        await page.locator('h1', { hasText: 'Devices' }).waitFor();
        await page.goto(`${origin}/#/admin`);
        await page.getByRole('heading', { name: 'X.509 enrollment groups' }).waitFor();
        await page.getByLabel('New group ID').fill('fleet');
        await page.getByRole('button', { name: 'Create X.509 group' }).click();
        await group.waitFor();
        await page.getByLabel('primary CA certificate file of fleet').setInputFiles(rootPem);
        await page.getByRole('button', { name: 'Upload the primary CA certificate of fleet' }).click();
        await group.getByRole('cell', { name: 'unverified' }).waitFor();
        await group.getByText(sha1(rootPem)).waitFor();
    });
    step('a proof for another code is refused in words', async () => {
        await page.getByRole('button', { name: 'Generate a verification code for the primary CA of fleet' }).click();
        await page.getByRole('textbox', { name: 'Verification code', exact: true }).waitFor();
        certs('verify-code', '--ca', path.join(certsDir, 'root'), '--code', 'NOT-THE-CODE', '--out', path.join(certsDir, 'bad'));
        await page.getByLabel('Verification certificate').setInputFiles(path.join(certsDir, 'bad', 'verification.pem'));
        await page.getByRole('button', { name: 'Verify the primary CA of fleet' }).click();
        const msg = group.getByRole('alert');
        await msg.filter({ hasText: 'Not verified' }).waitFor();
        if (!/verification code/.test(await msg.textContent())) throw new Error(`message: ${await msg.textContent()}`);
    });
    step('verification code, proof, verify: the CA is verified (the API agrees)', async () => {
        const code = await page.getByRole('textbox', { name: 'Verification code', exact: true }).inputValue();
        if (!/^[0-9A-F]{32}$/.test(code)) throw new Error(`code ${code}`);
        certs('verify-code', '--ca', path.join(certsDir, 'root'), '--code', code, '--out', path.join(certsDir, 'proof'));
        await page.getByLabel('Verification certificate').setInputFiles(path.join(certsDir, 'proof', 'verification.pem'));
        await page.getByRole('button', { name: 'Verify the primary CA of fleet' }).click();
        await group.getByRole('cell', { name: 'verified', exact: true }).waitFor();
        const g = await apiGet(page, origin, app.token, '/api/enrollmentGroups/fleet');
        if (g.attestation.x509.signingCertificates.primary.verified !== true) throw new Error('the API does not say verified');
        await page.shot('x509-admin-1280');
        await page.setViewportSize({ width: 390, height: 844 });
        await noSideways('Administration');
        await page.shot('x509-admin-390');
        await page.setViewportSize({ width: 1280, height: 800 });
    });
    step('Connect dialog: a client certificate is set and its thumbprint shown', async () => {
        const res = await page.request.put(`${origin}/api/devices/ui-x509?api-version=2022-07-31`,
            { headers: { Authorization: app.token }, data: { displayName: 'X.509 sensor' } });
        if (res.status() !== 200) throw new Error(`create: ${res.status()}`);
        await page.goto(`${origin}/#/devices/ui-x509`);
        await page.getByRole('button', { name: 'Connect' }).click();
        const dlg = page.getByRole('dialog', { name: 'Device connection' });
        await dlg.getByRole('textbox', { name: 'Primary key', exact: true }).waitFor();
        await dlg.getByText('Authenticate with X.509 certificates').click();
        await dlg.getByLabel('Primary certificate', { exact: true }).setInputFiles(path.join(certsDir, 'ui-x509.pem'));
        await dlg.getByRole('button', { name: 'Use these certificates' }).click();
        const thumb = dlg.getByRole('textbox', { name: 'Primary certificate thumbprint (SHA-1)' });
        await thumb.waitFor();
        if (await thumb.inputValue() !== sha1(path.join(certsDir, 'ui-x509.pem'))) throw new Error('thumbprint differs from the certificate');
        const att = await apiGet(page, origin, app.token, '/api/devices/ui-x509/attestation');
        if (att.x509.clientCertificates.primary.info.sha1Thumbprint !== await thumb.inputValue()) throw new Error('the API has another thumbprint');
        if (await dlg.getByRole('textbox', { name: 'Primary key', exact: true }).count() !== 0) throw new Error('keys still shown');
        await page.shot('x509-connect-1280');
    });
    step('reopened at 390 px: the X.509 facts, no keys, no sideways scrolling', async () => {
        await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
        await page.setViewportSize({ width: 390, height: 844 });
        await page.getByRole('button', { name: 'Connect' }).click();
        const dlg = page.getByRole('dialog', { name: 'Device connection' });
        await dlg.getByRole('textbox', { name: 'Primary certificate thumbprint (SHA-1)' }).waitFor();
        if (await dlg.getByRole('textbox', { name: 'Primary key', exact: true }).count() !== 0) throw new Error('keys shown for an X.509 device');
        await noSideways('Connect dialog');
        await page.shot('x509-connect-390');
    });
    step('no script errors in the page', async () => {
        if (page.errors.length) throw new Error(page.errors.join('; '));
    });
    return page;
});
