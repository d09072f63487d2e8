// Devices: the list (search, filters by template / status / connection, sortable columns,
// pages, bulk block / unblock / delete; all kept in the address), create from a template, the
// Connect dialog, block / unblock / delete (the tutorial's step 1.4).
import { application, del, get, list, patch, put, seg, webSocketText } from './api.js';
import {
    add, badge, clear, confirmAction, copyField, dialog, errorText, fmtTime, h, notify, showError,
} from './ui.js';
import { certificateForm, x509Facts } from './x509.js';

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
    let wss = null;
    try {
        const appFacts = await application();
        extra = `DPS endpoint: ${appFacts.hubHost}:${appFacts.mqttsPort} (MQTT over TLS; trust the CA certificate from Administration).`;
        if (appFacts.httpsPort) wss = webSocketText(appFacts);
    } catch {
        extra = null;
    }
    dialog('Device connection', (body) => {
        const facts = h('div', { id: 'conn-facts' });
        const show = (c) => {
            clear(facts, ...(c.symmetricKey
                ? [h('p', { class: 'muted' }, 'Give these to the device: it registers through DPS with its own symmetric key (SAS).'),
                    copyField('Primary key', c.symmetricKey.primaryKey, { id: 'conn-primary' }),
                    copyField('Secondary key', c.symmetricKey.secondaryKey, { id: 'conn-secondary' })]
                : [h('p', { class: 'muted' }, 'Give these to the device: it registers through DPS with its client certificate (X.509), the device ID as CN.'),
                    ...x509Facts(deviceId, c.x509)]));
        };
        show(creds);
        add(body,
            copyField('ID scope', creds.idScope, { id: 'conn-scope' }),
            copyField('Device ID', deviceId, { id: 'conn-device' }),
            facts,
            extra ? h('p', { class: 'muted' }, extra) : null,
            wss ? h('p', { class: 'muted', id: 'conn-wss' }, wss) : null,
            certificateForm(deviceId, (att) => show({ x509: att.x509 })));
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

/** What the list shows, kept in the address (#/devices?q=..&status=..): filters, sort, page. */
export const LIST_DEFAULTS = { q: '', template: '', status: '', conn: '', sort: 'name', dir: 'asc', page: 1, size: 25 };
const SORT_KEYS = ['name', 'id', 'template', 'status', 'conn', 'activity'];
const PAGE_SIZES = [25, 50, 100];

export function listState(hash) {
    const p = new URLSearchParams(hash.split('?')[1] || '');
    const st = { ...LIST_DEFAULTS };
    for (const k of ['q', 'template', 'status', 'conn']) st[k] = p.get(k) || '';
    if (SORT_KEYS.includes(p.get('sort'))) st.sort = p.get('sort');
    if (p.get('dir') === 'desc') st.dir = 'desc';
    st.page = Math.max(1, Number.parseInt(p.get('page'), 10) || 1);
    const size = Number.parseInt(p.get('size'), 10);
    if (PAGE_SIZES.includes(size)) st.size = size;
    return st;
}

export function listHash(st) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(st)) if (v !== LIST_DEFAULTS[k] && v !== '') p.set(k, String(v));
    const q = p.toString();
    return q ? `#/devices?${q}` : '#/devices';
}

/**
 * The devices that match @p st (search in name and id, template, status, connection), sorted,
 * and the page of them to show. Pure: @p tplName names a template id.
 */
export function listView(devices, st, tplName) {
    const q = st.q.trim().toLowerCase();
    const match = devices.filter((d) => {
        if (q && !(d.displayName || '').toLowerCase().includes(q) && !d.id.toLowerCase().includes(q)) return false;
        if (st.template === '-' ? d.template : st.template && d.template !== st.template) return false;
        if (st.status && d.status !== st.status) return false;
        if (st.conn && (st.conn === 'connected') !== !!d.connected) return false;
        return true;
    });
    const key = {
        name: (d) => (d.displayName || d.id).toLowerCase(),
        id: (d) => d.id.toLowerCase(),
        template: (d) => (d.template ? tplName(d.template) : '').toLowerCase(),
        status: (d) => d.status || '',
        conn: (d) => (d.connected ? 1 : 0),
        activity: (d) => d.lastActivity || '',
    }[st.sort];
    const sign = st.dir === 'desc' ? -1 : 1;
    match.sort((a, b) => {
        const x = key(a);
        const y = key(b);
        if (x < y) return -sign;
        if (x > y) return sign;
        return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    const pages = Math.max(1, Math.ceil(match.length / st.size));
    const page = Math.min(st.page, pages);
    return { total: match.length, pages, page, rows: match.slice((page - 1) * st.size, page * st.size) };
}

const COLUMNS = [
    ['name', 'Device name', ''],
    ['id', 'Device ID', 'c-id'],
    ['template', 'Device template', 'c-tpl'],
    ['status', 'Status', ''],
    ['conn', 'Connection', ''],
    ['activity', 'Last activity', 'c-last'],
];

function select(id, label, options, value) {
    return h('div', { class: 'field' }, h('label', { for: id }, label),
        h('select', { id }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
}

export async function render(main) {
    const st = listState(location.hash);
    const search = h('input', { id: 'dev-search', type: 'search', value: st.q, placeholder: 'Name or ID', spellcheck: 'false' });
    const tplBox = h('div', { class: 'field' });
    const filters = h('div', { class: 'toolbar filters', role: 'search', 'aria-label': 'Find devices' },
        h('div', { class: 'field' }, h('label', { for: 'dev-search' }, 'Search devices'), search),
        tplBox,
        select('dev-status', 'Status', [['', 'All statuses'], ['provisioned', 'Provisioned'], ['registered', 'Registered'],
            ['blocked', 'Blocked'], ['unassociated', 'Unassociated']], st.status),
        select('dev-conn', 'Connection', [['', 'All'], ['connected', 'Connected'], ['disconnected', 'Disconnected']], st.conn),
        select('dev-size', 'Per page', PAGE_SIZES.map((n) => [String(n), String(n)]), String(st.size)),
        h('div', { class: 'field clear' }, h('button', { type: 'button', id: 'dev-clear' }, 'Clear filters')));
    const count = h('p', { id: 'dev-count', class: 'muted', 'aria-live': 'polite' });
    const selected = new Set();
    const selInfo = h('span', { id: 'dev-selected' });
    const bulkBtns = [['block', 'Block'], ['unblock', 'Unblock'], ['delete', 'Delete']].map(([act, label]) =>
        h('button', { type: 'button', class: `small${act === 'delete' ? ' danger' : ''}`, id: `bulk-${act}`, disabled: true }, `${label} selected`));
    const bulk = h('div', { class: 'bulk', role: 'group', 'aria-label': 'Selected devices' }, selInfo, bulkBtns);
    const listBox = h('div', { class: 'grow' }, h('p', { class: 'muted' }, 'Loading devices…'));
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of devices' });
    const newBtn = h('button', { type: 'button', class: 'primary', id: 'new-device' }, '+ New');
    clear(main, h('div', { class: 'page-head' }, h('h1', {}, 'Devices'), h('div', { class: 'actions' }, newBtn)),
        filters, h('div', { class: 'list-head' }, count, bulk), listBox, pager);

    let templates = [];
    let devices = [];
    const tplName = (id) => {
        const t = templates.find((x) => x['@id'] === id);
        return t ? t.displayName || id : id;
    };

    // The address keeps what the operator chose; replaceState: no page change, no history entry.
    const remember = () => history.replaceState(null, '', listHash(st));
    const bind = (id, key, numeric) => {
        main.querySelector(`#${id}`).addEventListener('change', (ev) => {
            st[key] = numeric ? Number(ev.target.value) : ev.target.value;
            st.page = 1;
            remember();
            draw();
        });
    };
    search.addEventListener('input', () => {
        st.q = search.value;
        st.page = 1;
        remember();
        draw();
    });

    function drawTemplates() {
        const ids = new Set(templates.filter((t) => t.published).map((t) => t['@id']));
        for (const d of devices) if (d.template) ids.add(d.template);
        if (st.template && st.template !== '-') ids.add(st.template);
        const opts = [['', 'All templates'], ...[...ids].map((id) => [id, tplName(id)]), ['-', 'Unassigned']];
        const key = JSON.stringify(opts);
        if (tplBox.dataset.key === key) return; // unchanged: keep the control the operator may be using
        tplBox.dataset.key = key;
        const had = document.activeElement && document.activeElement.id === 'dev-template';
        clear(tplBox, h('label', { for: 'dev-template' }, 'Device template'),
            h('select', { id: 'dev-template' }, opts.map(([v, text]) => h('option', { value: v, selected: v === st.template }, text))));
        bind('dev-template', 'template');
        if (had) main.querySelector('#dev-template').focus();
    }

    function updateBulk() {
        for (const id of [...selected]) if (!devices.some((d) => d.id === id)) selected.delete(id);
        selInfo.textContent = selected.size ? `${selected.size} selected` : 'None selected';
        for (const b of bulkBtns) b.disabled = selected.size === 0;
    }

    function sortHeader([key, label, cls]) {
        const on = st.sort === key;
        const b = h('button', { type: 'button', class: 'sort', id: `sort-${key}` }, label,
            h('span', { 'aria-hidden': 'true' }, on ? (st.dir === 'asc' ? ' ▲' : ' ▼') : ''));
        b.addEventListener('click', () => {
            st.dir = on && st.dir === 'asc' ? 'desc' : 'asc';
            st.sort = key;
            remember();
            draw();
        });
        return h('th', { scope: 'col', class: cls || null, 'aria-sort': on ? (st.dir === 'asc' ? 'ascending' : 'descending') : null }, b);
    }

    function draw() {
        const v = listView(devices, st, tplName);
        st.page = v.page;
        count.textContent = v.total === devices.length
            ? `${devices.length} device${devices.length === 1 ? '' : 's'}`
            : `${v.total} of ${devices.length} devices match`;
        updateBulk();
        // The list is redrawn every few seconds: keep the keyboard focus on the same control.
        const f = document.activeElement;
        const row = f && listBox.contains(f) ? f.closest('tr') : null;
        const focusKey = row && f.dataset.action ? [row.dataset.device, f.dataset.action] : null;
        const focusId = f && (listBox.contains(f) || pager.contains(f)) && f.id ? f.id : null;
        if (v.total === 0) {
            clear(listBox, h('p', { class: 'muted' }, devices.length ? 'No device matches: change the search or the filters.' : 'No devices yet: choose + New.'));
        } else {
            const rows = v.rows.map((d) => {
                const name = d.displayName || d.id;
                const tick = h('input', { type: 'checkbox', checked: selected.has(d.id), 'aria-label': `Select ${name}`, dataset: { action: 'select' } });
                tick.addEventListener('change', () => {
                    if (tick.checked) selected.add(d.id);
                    else selected.delete(d.id);
                    updateBulk();
                    const all = listBox.querySelector('#select-page');
                    if (all) all.checked = v.rows.every((x) => selected.has(x.id));
                });
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
                    h('td', { class: 'c-sel' }, tick),
                    h('td', {}, h('a', { href: `#/devices/${encodeURIComponent(d.id)}`, dataset: { action: 'open' } }, name)),
                    h('td', { class: 'c-id' }, h('code', {}, d.id)),
                    h('td', { class: 'c-tpl' }, d.template ? tplName(d.template) : h('span', { class: 'muted' }, 'Unassigned')),
                    h('td', {}, statusBadge(d)),
                    h('td', {}, connBadge(d)),
                    h('td', { class: 'c-last' }, fmtTime(d.lastActivity)),
                    h('td', { class: 'row-actions c-act' }, blk, rm));
            });
            const all = h('input', { type: 'checkbox', id: 'select-page', 'aria-label': 'Select all devices on this page', checked: v.rows.every((x) => selected.has(x.id)) });
            all.addEventListener('change', () => {
                for (const d of v.rows) {
                    if (all.checked) selected.add(d.id);
                    else selected.delete(d.id);
                }
                draw();
            });
            clear(listBox, h('div', { class: 'table-wrap' }, h('table', { class: 'devices' },
                h('caption', { class: 'sr-only' }, `Devices, page ${v.page} of ${v.pages}`),
                h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'c-sel' }, all), COLUMNS.map(sortHeader),
                    h('th', { scope: 'col', class: 'c-act' }, 'Actions'))),
                h('tbody', {}, rows))));
        }
        const go = (n) => {
            st.page = n;
            remember();
            draw();
            main.querySelector('#dev-count').scrollIntoView({ block: 'nearest' });
        };
        const prev = h('button', { type: 'button', id: 'page-prev', disabled: v.page <= 1 }, 'Previous page');
        const next = h('button', { type: 'button', id: 'page-next', disabled: v.page >= v.pages }, 'Next page');
        prev.addEventListener('click', () => go(v.page - 1));
        next.addEventListener('click', () => go(v.page + 1));
        const first = v.total ? (v.page - 1) * st.size + 1 : 0;
        clear(pager, prev, h('span', { id: 'page-info' }, `Page ${v.page} of ${v.pages} · ${first}–${first + v.rows.length - (v.total ? 1 : 0)} of ${v.total}`), next);
        pager.hidden = v.pages <= 1;
        if (focusKey) {
            const again = [...listBox.querySelectorAll('tr')].find((tr) => tr.dataset.device === focusKey[0]);
            const el = again && again.querySelector(`[data-action="${focusKey[1]}"]`);
            if (el) el.focus();
        } else if (focusId) {
            const el = main.querySelector(`#${focusId}`);
            if (el && !el.disabled) el.focus();
            else if (focusId === 'page-next' || focusId === 'page-prev') main.querySelector(focusId === 'page-next' ? '#page-prev' : '#page-next').focus();
        }
    }

    async function bulkRun(act) {
        const ids = [...selected];
        const chosen = devices.filter((d) => selected.has(d.id));
        const verb = { block: 'Block', unblock: 'Unblock', delete: 'Delete' }[act];
        const names = chosen.slice(0, 5).map((d) => d.displayName || d.id).join(', ') + (chosen.length > 5 ? `, and ${chosen.length - 5} more` : '');
        const what = act === 'delete'
            ? `${names} will be removed with their data (twin, commands history).`
            : act === 'block' ? `${names} will not be able to connect.` : `${names} will be able to connect again.`;
        const ok = await confirmAction(`${verb} ${ids.length} device${ids.length === 1 ? '' : 's'}?`, what, verb);
        if (!ok) return;
        const failures = [];
        for (const d of chosen) {
            try {
                if (act === 'delete') await del(`/api/devices/${seg(d.id)}`);
                else await patch(`/api/devices/${seg(d.id)}`, { enabled: act === 'unblock' });
                selected.delete(d.id);
            } catch (err) {
                failures.push([d.id, err]);
            }
        }
        const done = chosen.length - failures.length;
        const past = { block: 'blocked', unblock: 'unblocked', delete: 'deleted' }[act];
        if (done) notify(`${done} device${done === 1 ? ' is' : 's are'} ${past}.`);
        for (const [id, err] of failures) showError(`${id} was not ${past}`, err);
        await refresh();
        // the bulk buttons are disabled now that nothing is selected: keep the keyboard in the list
        const next = main.querySelector('#select-page') || search;
        next.focus();
    }
    bulkBtns.forEach((b, i) => b.addEventListener('click', () => bulkRun(['block', 'unblock', 'delete'][i])));

    async function refresh() {
        try {
            [templates, devices] = await Promise.all([list('/api/deviceTemplates'), list('/api/devices')]);
            drawTemplates();
            draw();
        } catch (err) {
            clear(listBox, h('p', { class: 'msg error', role: 'alert' }, `Devices cannot be listed: ${errorText(err)}`));
        }
    }

    main.querySelector('#dev-clear').addEventListener('click', () => {
        Object.assign(st, { q: '', template: '', status: '', conn: '', page: 1 });
        search.value = '';
        for (const id of ['dev-template', 'dev-status', 'dev-conn']) main.querySelector(`#${id}`).value = '';
        remember();
        draw();
    });
    bind('dev-status', 'status');
    bind('dev-conn', 'conn');
    bind('dev-size', 'size', true);
    // The button is on the page before the first list arrives: a click that early waits for the
    // templates, so the dialog never offers "Unassigned" only because they were still loading.
    let first = null;
    newBtn.addEventListener('click', async () => {
        await first;
        createDialog(templates, st.template === '-' ? '' : st.template, (d) => {
            location.hash = `#/devices/${encodeURIComponent(d.id)}`;
        });
    });
    first = refresh();
    await first;
    // Connection states change without the operator doing anything: refresh every 5 s.
    const timer = setInterval(() => {
        if (!document.querySelector('dialog[open]')) refresh();
    }, 5000);
    return () => clearInterval(timer);
}
