// Administration: the application's device connection facts (ID scope, the SAS enrollment
// group and its keys, the CA certificate) and API tokens (create, revoke).
import { application, del, list, post, put, seg, webSocketText } from './api.js';
import { x509Groups } from './x509.js';
import { clear, confirmAction, copyField, dialog, errorText, fmtTime, h, inline, notify, showError, table } from './ui.js';

// IoT Central's role ids, which the API returns (App Administrator, App Operator)
const roleNames = { 'ca310b8d-2f4a-44e0-a36e-957c202cd8d4': 'administrator', 'ae2c9854-393b-4f97-8c42-479d70ce626e': 'operator' };

// A group key field with a Regenerate button (POST /api/enrollmentGroups/{id}/regenerateKey).
function groupKeyField(group, which, msg) {
    const label = `Group ${which} key`;
    const id = `group-${which}`;
    const row = copyField(label, group[`${which}Key`], { secret: true, id });
    const input = row.querySelector('input');
    const regen = h('button', { type: 'button', class: 'small danger', id: `regen-${which}`, 'aria-label': `Regenerate the ${label.toLowerCase()}` }, 'Regenerate');
    regen.addEventListener('click', async () => {
        const ok = await confirmAction(`Regenerate the ${which} key?`,
            `A new random ${which} key replaces the current one at once. Devices already registered keep connecting with the keys they have; `
            + `a device that registers (again) through ${group.id} must then use a key derived from the new ${which} key.`, 'Regenerate');
        if (!ok) return;
        regen.disabled = true;
        inline(msg, 'info', '');
        try {
            const g = await post(`/api/enrollmentGroups/${seg(group.id)}/regenerateKey?keyType=${which}`);
            input.value = g.attestation.symmetricKey[`${which}Key`];
            input.type = 'text';
            const show = row.querySelector('button[aria-label^="Show"], button[aria-label^="Hide"]');
            if (show) show.textContent = 'Hide';
            inline(msg, 'ok', `The ${which} key was regenerated; the new key is shown above. Devices registering through ${group.id} need keys derived from it.`);
            notify(`The ${which} key of ${group.id} was regenerated.`);
        } catch (err) {
            inline(msg, 'error', `The ${which} key was not regenerated: ${errorText(err)}`);
        } finally {
            regen.disabled = false;
        }
    });
    row.lastChild.append(regen);
    return row;
}

export async function render(main, session) {
    const app = await application();
    const conn = h('section', { class: 'card', 'aria-labelledby': 'conn-h' },
        h('h2', { id: 'conn-h' }, 'Device connection'),
        copyField('ID scope', app.idScope, { id: 'admin-scope' }),
        h('p', { class: 'muted' }, `DPS and IoT Hub: ${app.hubHost}:${app.mqttsPort} (MQTT over TLS). Devices must trust the application's CA certificate.`),
        app.httpsPort ? h('p', { class: 'muted', id: 'admin-wss' }, webSocketText(app)) : null,
        h('p', {}, h('a', { class: 'button', href: '/ui/ca.pem', download: 'iotc-ca.pem', id: 'download-ca' }, 'Download the CA certificate')));
    if (app.enrollmentGroup) {
        const keyMsg = h('p', { class: 'msg', hidden: true, role: 'alert', id: 'group-msg' });
        conn.append(h('h3', {}, `Enrollment group ${app.enrollmentGroup.id} (SAS)`),
            h('p', { class: 'muted' }, 'A device can register with a key derived from a group key: Base64(HMAC-SHA256(group key, device id)). Keys are created with the application; regenerate one when it may have leaked.'),
            groupKeyField(app.enrollmentGroup, 'primary', keyMsg),
            groupKeyField(app.enrollmentGroup, 'secondary', keyMsg),
            keyMsg);
    } else {
        conn.append(h('p', { class: 'muted' }, 'The enrollment group keys are shown to administrators only.'));
    }
    const tokensBox = h('section', { class: 'card', 'aria-labelledby': 'tok-h' }, h('h2', { id: 'tok-h' }, 'API tokens'));
    clear(main, h('h1', {}, 'Administration'), conn, app.enrollmentGroup ? x509Groups() : null, tokensBox);
    if (session.role !== 'administrator') {
        tokensBox.append(h('p', { class: 'muted' }, 'Only administrators manage API tokens.'));
        return;
    }

    const listBox = h('div', {});
    const tid = h('input', { id: 'token-id', type: 'text', required: true, pattern: '[A-Za-z0-9._-]{1,128}', spellcheck: 'false' });
    const role = h('select', { id: 'token-role' }, h('option', { value: 'operator' }, 'Operator'), h('option', { value: 'administrator' }, 'Administrator'));
    const expiry = h('input', { id: 'token-expiry', type: 'date' });
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const form = h('form', { id: 'token-form', novalidate: true },
        h('div', { class: 'fields' },
            h('div', {}, h('label', { for: 'token-id' }, 'Token name'), tid),
            h('div', {}, h('label', { for: 'token-role' }, 'Role'), role),
            h('div', {}, h('label', { for: 'token-expiry' }, 'Expires (default: in a year)'), expiry)),
        msg, h('button', { type: 'submit', class: 'primary' }, 'Generate token'));
    tokensBox.append(listBox, h('h3', {}, 'New token'), form);

    async function refresh() {
        try {
            const tokens = await list('/api/apiTokens');
            if (tokens.length === 0) {
                clear(listBox, h('p', { class: 'muted' }, 'No API tokens. The administrator token from "iotc-central init" always works.'));
                return;
            }
            clear(listBox, table(null, ['Name', 'Role', 'Expires', 'Actions'], tokens.map((t) => {
                const rm = h('button', { type: 'button', class: 'small danger', 'aria-label': `Revoke ${t.id}` }, 'Revoke');
                rm.addEventListener('click', async () => {
                    if (!(await confirmAction('Revoke this token?', `${t.id} stops working at once.`, 'Revoke'))) return;
                    try {
                        await del(`/api/apiTokens/${seg(t.id)}`);
                        notify(`${t.id} is revoked.`);
                        refresh();
                    } catch (err) {
                        showError(`${t.id} was not revoked`, err);
                    }
                });
                return h('tr', {}, h('td', {}, h('code', {}, t.id)), h('td', {}, (t.roles || []).map((r) => roleNames[r.role] || r.role).join(', ')),
                    h('td', {}, fmtTime(t.expiry)), h('td', {}, rm));
            })));
        } catch (err) {
            clear(listBox, h('p', { class: 'msg error', role: 'alert' }, `Tokens cannot be listed: ${errorText(err)}`));
        }
    }

    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        msg.hidden = true;
        if (!/^[A-Za-z0-9._-]{1,128}$/.test(tid.value)) {
            msg.className = 'msg error';
            msg.textContent = 'Token name: 1 to 128 letters, digits, ".", "_" or "-".';
            msg.hidden = false;
            return;
        }
        const body = { roles: [{ role: role.value }] };
        if (expiry.value) body.expiry = new Date(`${expiry.value}T00:00:00Z`).toISOString();
        try {
            const t = await put(`/api/apiTokens/${seg(tid.value)}`, body);
            dialog('API token created', (b) => b.append(
                h('p', {}, 'Copy the token now: it is not shown again (the server keeps no copy).'),
                copyField('Token', t.token, { id: 'new-token' })), [{ label: 'Done', primary: true }]);
            tid.value = '';
            refresh();
        } catch (err) {
            msg.className = 'msg error';
            msg.textContent = `The token was not created: ${errorText(err)}`;
            msg.hidden = false;
        }
    });
    await refresh();
}
