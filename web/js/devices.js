// Devices: the list (status, template, connection), create from a template, the Connect dialog,
// block / unblock / delete (the tutorial's step 1.4).
import { application, del, get, list, patch, put, seg } from './api.js';
import {
    add, badge, clear, confirmAction, copyField, dialog, errorText, fmtTime, h, notify, showError, table,
} from './ui.js';

const STATUS = {
    registered: ['Registered', ''],
    provisioned: ['Provisioned', 'ok'],
    blocked: ['Blocked', 'bad'],
    unassociated: ['Unassociated', 'warn'],
};

export function statusBadge(d) {
    const [text, kind] = STATUS[d.status] || [d.status || '?', ''];
    return badge(text, kind);
}

export function connBadge(d) {
    return d.connected ? badge('Connected', 'ok dot') : badge('Disconnected', 'dot');
}

/** Device ids like IoT Central's generated ones: lower-case letters and digits. */
function newDeviceId() {
    const b = new Uint8Array(8);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => (x % 36).toString(36)).join('');
}

/** The "Device connection" dialog: ID scope, device id, keys, each with a copy button. */
export async function connectDialog(deviceId) {
    const creds = await get(`/api/devices/${seg(deviceId)}/credentials`);
    let extra = null;
    try {
        const appFacts = await application();
        extra = `DPS endpoint: ${appFacts.hubHost}:${appFacts.mqttsPort} (MQTT over TLS; trust the CA certificate from Administration).`;
    } catch {
        extra = null;
    }
    dialog('Device connection', (body) => {
        add(body,
            h('p', { class: 'muted' }, 'Give these to the device: it registers through DPS with its own symmetric key (SAS).'),
            copyField('ID scope', creds.idScope, { id: 'conn-scope' }),
            copyField('Device ID', deviceId, { id: 'conn-device' }),
            copyField('Primary key', creds.symmetricKey.primaryKey, { id: 'conn-primary' }),
            copyField('Secondary key', creds.symmetricKey.secondaryKey, { id: 'conn-secondary' }),
            extra ? h('p', { class: 'muted' }, extra) : null);
    }, [{ label: 'Close', primary: true }]);
}

export async function block(d, enabled) {
    await patch(`/api/devices/${seg(d.id)}`, { enabled });
    notify(enabled ? `${d.displayName || d.id} is unblocked.` : `${d.displayName || d.id} is blocked: it cannot connect.`);
}

export async function remove(d) {
    const ok = await confirmAction('Delete this device?',
        `${d.displayName || d.id} (${d.id}) and its data (twin, commands history) will be removed.`, 'Delete');
    if (!ok) return false;
    await del(`/api/devices/${seg(d.id)}`);
    notify(`${d.displayName || d.id} is deleted.`);
    return true;
}

function createDialog(templates, preselect, onCreated) {
    const published = templates.filter((t) => t.published);
    const tplSel = h('select', { id: 'new-template' },
        published.map((t) => h('option', { value: t['@id'], selected: t['@id'] === preselect }, t.displayName || t['@id'])),
        h('option', { value: '' }, 'Unassigned'));
    const id = newDeviceId();
    const name = h('input', { id: 'new-name', type: 'text', required: true });
    const did = h('input', { id: 'new-id', type: 'text', required: true, value: id, spellcheck: 'false' });
    const suggest = () => {
        const t = published.find((x) => x['@id'] === tplSel.value);
        name.value = `${t ? t.displayName || 'Device' : 'Device'} - ${did.value}`;
    };
    tplSel.addEventListener('change', suggest);
    suggest();
    dialog('Create a device', (body) => {
        add(body,
            h('label', { for: 'new-template' }, 'Device template'), tplSel,
            published.length === 0 ? h('p', { class: 'muted' }, 'No published template: the device will be unassociated.') : null,
            h('label', { for: 'new-name' }, 'Device name'), name,
            h('label', { for: 'new-id' }, 'Device ID'), did,
            h('p', { class: 'muted' }, 'iotc does not simulate devices: run a real one (e.g. environmental-sensor) with the credentials from Connect.'));
    }, [
        { label: 'Cancel' },
        {
            label: 'Create', primary: true, onclick: async () => {
                const body = { displayName: name.value.trim() || did.value.trim(), enabled: true };
                if (tplSel.value) body.template = tplSel.value;
                const d = await put(`/api/devices/${seg(did.value.trim())}`, body);
                notify(`Device ${d.displayName} created.`);
                onCreated(d);
            },
        },
    ]);
}

export async function render(main) {
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    const filter = params.get('template') || '';
    const tplNav = h('nav', { class: 'side', 'aria-label': 'Templates' });
    const listBox = h('div', { class: 'grow' }, h('p', { class: 'muted' }, 'Loading devices…'));
    const newBtn = h('button', { type: 'button', class: 'primary', id: 'new-device' }, '+ New');
    clear(main, h('div', { class: 'page-head' }, h('h1', {}, 'Devices'), h('div', { class: 'actions' }, newBtn)),
        h('div', { class: 'split' }, tplNav, listBox));

    let templates = [];
    let devices = [];
    const tplName = (id) => {
        const t = templates.find((x) => x['@id'] === id);
        return t ? t.displayName || id : id;
    };

    function draw() {
        const links = [h('a', { href: '#/devices', 'aria-current': filter ? null : 'page' }, 'All devices')];
        for (const t of templates.filter((x) => x.published)) {
            links.push(h('a', { href: `#/devices?template=${encodeURIComponent(t['@id'])}`, 'aria-current': filter === t['@id'] ? 'page' : null }, t.displayName || t['@id']));
        }
        clear(tplNav, h('h2', {}, 'Templates'), links);
        const shown = filter ? devices.filter((d) => d.template === filter) : devices;
        if (shown.length === 0) {
            clear(listBox, h('p', { class: 'muted' }, filter ? 'No device uses this template yet.' : 'No devices yet: choose + New.'));
            return;
        }
        const rows = shown.map((d) => {
            const blk = h('button', { type: 'button', class: 'small', dataset: { action: 'block' } }, d.enabled ? 'Block' : 'Unblock');
            blk.addEventListener('click', async () => {
                try {
                    await block(d, !d.enabled);
                    await refresh();
                } catch (err) {
                    showError(`${d.id} was not ${d.enabled ? 'blocked' : 'unblocked'}`, err);
                }
            });
            const rm = h('button', { type: 'button', class: 'small danger', dataset: { action: 'delete' } }, 'Delete');
            rm.addEventListener('click', async () => {
                try {
                    if (await remove(d)) await refresh();
                } catch (err) {
                    showError(`${d.id} was not deleted`, err);
                }
            });
            return h('tr', { dataset: { device: d.id } },
                h('td', {}, h('a', { href: `#/devices/${encodeURIComponent(d.id)}`, dataset: { action: 'open' } }, d.displayName || d.id)),
                h('td', {}, h('code', {}, d.id)),
                h('td', {}, d.template ? tplName(d.template) : h('span', { class: 'muted' }, 'Unassigned')),
                h('td', {}, statusBadge(d)),
                h('td', {}, connBadge(d)),
                h('td', {}, fmtTime(d.lastActivity)),
                h('td', { class: 'row-actions' }, blk, rm));
        });
        // The list is redrawn every few seconds: keep the keyboard focus on the same control.
        const f = document.activeElement;
        const row = f && listBox.contains(f) ? f.closest('tr') : null;
        const focusKey = row && f.dataset.action ? [row.dataset.device, f.dataset.action] : null;
        clear(listBox, table(null, ['Device name', 'Device ID', 'Device template', 'Status', 'Connection', 'Last activity', 'Actions'], rows, { className: 'devices' }));
        if (focusKey) {
            const again = [...listBox.querySelectorAll('tr')].find((tr) => tr.dataset.device === focusKey[0]);
            const el = again && again.querySelector(`[data-action="${focusKey[1]}"]`);
            if (el) el.focus();
        }
    }

    async function refresh() {
        try {
            [templates, devices] = await Promise.all([list('/api/deviceTemplates'), list('/api/devices')]);
            draw();
        } catch (err) {
            clear(listBox, h('p', { class: 'msg error', role: 'alert' }, `Devices cannot be listed: ${errorText(err)}`));
        }
    }

    newBtn.addEventListener('click', () => createDialog(templates, filter, (d) => {
        location.hash = `#/devices/${encodeURIComponent(d.id)}`;
    }));
    await refresh();
    // Connection states change without the operator doing anything: refresh every 5 s.
    const timer = setInterval(() => {
        if (!document.querySelector('dialog[open]')) refresh();
    }, 5000);
    return () => clearInterval(timer);
}
