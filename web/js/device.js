// One device: header (status, connection, Connect / Block / Delete), a tab per template view
// plus Commands, Raw data and Conformance, all kept current by the device's event stream.
import { get, list, patch, post, seg, stream } from './api.js';
import {
    capKey, capLabel, clear, errorText, fmtTime, fmtValue, h, inline, schemaName, showError, valueProblem,
} from './ui.js';
import { block, connBadge, connectDialog, remove, statusBadge } from './devices.js';
import { renderConformance, renderDashboard, renderRaw } from './device_data.js';
import { commandHistory, describeCommand, requestText } from './command_history.js';

const BUILTIN = [
    { id: 'commands', label: 'Commands' },
    { id: 'rawdata', label: 'Raw data' },
    { id: 'conformance', label: 'Conformance' },
];

/** @p onLeave(fn) runs fn when the operator leaves the page (at once if already left). */
export async function render(main, id, tab, onLeave = () => {}) {
    const devPath = `/api/devices/${seg(id)}`;
    let dev = await get(devPath);
    let tpl = null;
    let tplError = null;
    if (dev.template) {
        try {
            tpl = await get(`/api/deviceTemplates/${seg(dev.template)}`);
        } catch (err) {
            tplError = err;
        }
    }
    const caps = (tpl && tpl.capabilities) || [];
    const ctx = {
        id, devPath, caps, tpl,
        custom: (tpl && tpl.customizations) || {},
        cap: (component, name) => caps.find((c) => (c.component || '') === (component || '') && c.name === name),
        label: (c) => capLabel(c, (tpl && tpl.customizations) || {}),
    };
    const views = (tpl && tpl.views) || [];
    // A view whose id is a built-in tab's hides that tab (view ids are the template author's).
    const tabs = [...views.map((v) => ({ id: v.id, label: v.displayName, view: v })),
        ...BUILTIN.filter((b) => !views.some((v) => v.id === b.id))];
    const current = tabs.find((t) => t.id === tab) || tabs[0];

    const headBox = h('div', { class: 'page-head' });
    // The page's own live updates (the event stream), not the device's connection: said in words.
    const live = h('span', { class: 'live', role: 'status', 'aria-live': 'polite', title: 'This page updates by itself while this says "Live updates on"' }, 'Live updates: connecting…');
    const tabNav = h('nav', { class: 'tabs', 'aria-label': 'Device views' }, tabs.map((t) =>
        h('a', { href: `#/devices/${encodeURIComponent(id)}/${encodeURIComponent(t.id)}`, 'aria-current': t === current ? 'page' : null, id: `tab-${t.id}` }, t.label)));
    const panel = h('section', { class: 'panel', 'aria-labelledby': `tab-${current.id}` });
    clear(main, h('p', {}, h('a', { href: '#/devices' }, '← Devices')), headBox, tabNav, panel);
    if (tplError) showError(`The device's template ${dev.template} cannot be read`, tplError);

    // The buttons are made once (re-creating them every few seconds would steal the keyboard
    // focus); the status line is redrawn when the device changes.
    const meta = h('p', { class: 'meta' });
    const connect = h('button', { type: 'button', class: 'primary', id: 'connect' }, 'Connect');
    connect.addEventListener('click', () => connectDialog(id).catch((err) => showError('The credentials cannot be shown', err)));
    const blk = h('button', { type: 'button', id: 'block' });
    blk.addEventListener('click', async () => {
        try {
            await block(dev, !dev.enabled);
            dev = await get(devPath);
            drawHead();
        } catch (err) {
            showError(`The device was not ${dev.enabled ? 'blocked' : 'unblocked'}`, err);
        }
    });
    const rm = h('button', { type: 'button', class: 'danger', id: 'delete' }, 'Delete');
    rm.addEventListener('click', async () => {
        try {
            if (await remove(dev)) location.hash = '#/devices';
        } catch (err) {
            showError('The device was not deleted', err);
        }
    });
    const title = h('h1', {});
    clear(headBox, h('div', {}, title, meta), h('div', { class: 'actions' }, connect, blk, rm));

    function drawHead() {
        title.textContent = dev.displayName || id;
        blk.textContent = dev.enabled ? 'Block' : 'Unblock';
        clear(meta,
            h('code', {}, id), ' · ',
            dev.template ? h('a', { href: `#/templates/${encodeURIComponent(dev.template)}` }, (tpl && tpl.displayName) || dev.template) : h('span', { class: 'muted' }, 'Unassigned'),
            ' · ', statusBadge(dev), ' ', connBadge(dev),
            dev.lastActivity ? ` · last activity ${fmtTime(dev.lastActivity)}` : '', ' · ', live);
    }
    drawHead();

    let panelHandler = () => {};
    let panelCleanup = null;
    const panelApi = {
        on(fn) { panelHandler = fn; },
        cleanup(fn) { panelCleanup = fn; },
    };
    let headTimer = null;
    const stop = stream(id, (type, data) => {
        if (type === 'connection' || type === 'telemetry') {
            // status (provisioned), connection and last activity: refetch, at most every 2 s
            if (type === 'connection') dev.connected = !!data.connected;
            if (!headTimer) {
                headTimer = setTimeout(async () => {
                    headTimer = null;
                    try {
                        dev = await get(devPath);
                    } catch {
                        return;
                    }
                    drawHead();
                }, type === 'connection' ? 0 : 2000);
            }
        }
        panelHandler(type, data);
    }, (state, text) => {
        live.textContent = text;
        live.className = `live s-${state}`;
    });
    // closed when the page is left, also if that happens before the panel below has rendered
    onLeave(() => {
        stop();
        clearTimeout(headTimer);
    });

    try {
        if (current.view && current.view.type === 'dashboard') await renderDashboard(panel, current.view, ctx, panelApi);
        else if (current.view) await renderForm(panel, current.view, ctx, panelApi);
        else if (current.id === 'commands') await renderCommands(panel, ctx, panelApi);
        else if (current.id === 'rawdata') await renderRaw(panel, ctx, panelApi);
        else await renderConformance(panel, ctx, panelApi);
    } catch (err) {
        panel.append(h('p', { class: 'msg error', role: 'alert' }, `${current.label} cannot be shown: ${errorText(err)}`));
    }
    return () => {
        stop();
        clearTimeout(headTimer);
        if (panelCleanup) panelCleanup();
    };
}

/* ------------------------------------------------------------------ forms (About, Properties) */

function inputFor(cap, fid) {
    const s = cap.schema;
    if (s === 'boolean') {
        return h('select', { id: fid }, h('option', { value: '' }, '—'), h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
    }
    if (s && typeof s === 'object' && (s['@type'] === 'Enum' || (Array.isArray(s['@type']) && s['@type'].includes('Enum')))) {
        return h('select', { id: fid }, h('option', { value: '' }, '—'),
            (s.enumValues || []).map((e) => h('option', { value: JSON.stringify(e.enumValue) }, e.displayName || e.name)));
    }
    if (['integer', 'long'].includes(s)) return h('input', { id: fid, type: 'number', step: '1', inputmode: 'numeric' });
    if (['double', 'float'].includes(s)) return h('input', { id: fid, type: 'number', step: 'any', inputmode: 'decimal' });
    if (typeof s === 'object') return h('textarea', { id: fid, rows: 3, spellcheck: 'false' });
    return h('input', { id: fid, type: 'text' });
}

function showValue(input, cap, v) {
    if (v === undefined || v === null) input.value = '';
    else if (input.tagName === 'SELECT' && cap.schema !== 'boolean') input.value = JSON.stringify(v);
    else if (input.tagName === 'TEXTAREA') input.value = JSON.stringify(v, null, 1);
    else input.value = String(v);
}

/** The input's value in the capability's schema, or throws an Error saying what is wrong. */
function readValue(input, cap, label) {
    const raw = input.value.trim();
    const s = cap.schema;
    if (raw === '') throw new Error(`${label}: enter a value.`);
    if (s === 'boolean') return raw === 'true';
    if (['integer', 'long'].includes(s)) {
        if (!/^-?\d+$/.test(raw)) throw new Error(`${label}: enter a whole number.`);
        return Number(raw);
    }
    if (['double', 'float'].includes(s)) {
        const n = Number(raw);
        if (!Number.isFinite(n)) throw new Error(`${label}: enter a number.`);
        return n;
    }
    if (input.tagName === 'SELECT' || typeof s === 'object') {
        try {
            return JSON.parse(raw);
        } catch {
            throw new Error(`${label}: enter JSON.`);
        }
    }
    return raw;
}

function syncText(meta, cap, custom) {
    if (!meta || !meta.state) return ['', ''];
    const want = fmtValue(meta.desiredValue, cap, custom);
    if (meta.state === 'pending') {
        // an acknowledgement of an earlier version is not an answer to this one
        const own = meta.ackCode && meta.ackVersion !== undefined && meta.ackVersion >= meta.desiredVersion;
        const ack = own ? ` (the device answered ${meta.ackCode}${meta.ackDescription ? `: ${meta.ackDescription}` : ''})` : '';
        return ['pending', `Pending: waiting for the device to accept ${want}${ack}.`];
    }
    if (meta.state === 'synced') return ['synced', `Synced${meta.ackDescription ? `: ${meta.ackDescription}` : ''}.`];
    if (meta.state === 'failed') {
        return ['failed', `Failed: the device refused ${want} with code ${meta.ackCode}${meta.ackDescription ? `: ${meta.ackDescription}` : ''}.`];
    }
    return [meta.state, meta.state];
}

async function renderForm(panel, view, ctx, panelApi) {
    const fields = [];
    const sections = (view.sections || []).map((s) => {
        const rows = (s.fields || []).map((f) => {
            const cap = ctx.cap(f.component, f.name);
            const fid = `field-${(f.component ? `${f.component}-` : '')}${f.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
            const label = `${f.component ? `${f.component} / ` : ''}${cap ? ctx.label(cap) : f.name}`;
            const entry = { f, cap, fid, label, dirty: false };
            fields.push(entry);
            if (view.readOnly || !cap || !cap.writable) {
                entry.out = h('dd', { id: fid }, '—');
                entry.when = h('span', { class: 'muted small' });
                return [h('dt', {}, label), entry.out];
            }
            entry.input = inputFor(cap, fid);
            entry.input.addEventListener('input', () => (entry.dirty = true));
            entry.input.addEventListener('change', () => (entry.dirty = true));
            entry.status = h('p', { class: 'sync', id: `${fid}-sync`, role: 'status' });
            entry.input.setAttribute('aria-describedby', `${fid}-sync`);
            return h('div', { class: 'field' },
                h('label', { for: fid }, label, cap.unit ? ` (${cap.unit})` : ''), entry.input, entry.status);
        });
        return view.readOnly || rows.every((r) => Array.isArray(r))
            ? h('section', { class: 'card' }, h('h2', {}, s.displayName), h('dl', { class: 'props' }, rows))
            : h('section', { class: 'card' }, h('h2', {}, s.displayName), rows);
    });
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const editable = fields.some((e) => e.input);
    const saveBtn = h('button', { type: 'submit', class: 'primary', id: 'save-properties' }, 'Save');
    const form = h('form', { id: `form-${view.id}`, novalidate: true }, sections, editable ? [msg, h('div', { class: 'actions' }, saveBtn)] : null);
    clear(panel, form);

    const scope = (obj, comp) => (comp ? (obj && obj[comp]) || {} : obj || {});
    async function load() {
        const props = await get(`${ctx.devPath}/properties`);
        for (const e of fields) {
            const s = scope(props, e.f.component);
            const v = s[e.f.name];
            const meta = (s.$metadata || {})[e.f.name];
            if (e.out) {
                // judged as the server judges it (the Raw data tab's Errors say the same)
                const problem = valueProblem(v, e.cap);
                clear(e.out, fmtValue(v, e.cap, ctx.custom[e.cap ? capKey(e.cap) : e.f.name]),
                    problem ? h('span', { class: 'bad-text small' }, ` — not as the template says: ${problem}`) : null);
                if (meta && meta.lastUpdateTime) e.out.title = `updated ${fmtTime(meta.lastUpdateTime)}`;
            } else {
                // while a write is pending the box shows the value asked for, not the old one
                const pending = meta && meta.state === 'pending' && meta.desiredValue !== undefined;
                if (!e.dirty) showValue(e.input, e.cap, pending ? meta.desiredValue : v);
                const [state, text] = syncText(meta, e.cap, ctx.custom[capKey(e.cap)]);
                e.status.className = `sync ${state}`;
                e.status.textContent = text;
            }
        }
    }

    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const body = {};
        try {
            for (const e of fields.filter((x) => x.input && x.dirty)) {
                const v = readValue(e.input, e.cap, e.label);
                if (e.f.component) (body[e.f.component] ||= {})[e.f.name] = v;
                else body[e.f.name] = v;
            }
        } catch (err) {
            return inline(msg, 'error', err.message);
        }
        if (Object.keys(body).length === 0) return inline(msg, 'info', 'Nothing changed.');
        saveBtn.disabled = true;
        try {
            await patch(`${ctx.devPath}/properties`, body);
            for (const e of fields) e.dirty = false;
            inline(msg, 'ok', 'Saved: the device is asked to apply the new values.');
            await load();
        } catch (err) {
            inline(msg, 'error', `Not saved: ${errorText(err)}`);
        } finally {
            saveBtn.disabled = false;
        }
    });

    let t = null;
    panelApi.on((type) => {
        if (type !== 'property' && type !== 'desired' && type !== 'connection') return;
        clearTimeout(t);
        t = setTimeout(() => load().catch((err) => showError('Properties cannot be read', err)), 150);
    });
    panelApi.cleanup(() => clearTimeout(t));
    await load();
}

/* ------------------------------------------------------------------ commands */

function commandPath(ctx, cap) {
    return cap.component
        ? `${ctx.devPath}/components/${seg(cap.component)}/commands/${seg(cap.name)}`
        : `${ctx.devPath}/commands/${seg(cap.name)}`;
}

function commandCard(ctx, cap) {
    const key = capKey(cap).replace(/[^A-Za-z0-9_-]/g, '_');
    const req = cap.request;
    let input = null;
    let reqCap = null;
    if (req) {
        reqCap = { schema: req.schema };
        input = inputFor(reqCap, `cmd-${key}-req`);
    }
    const timeout = h('input', { id: `cmd-${key}-timeout`, type: 'number', min: 5, max: 30, value: 30, step: 1 });
    const run = h('button', { type: 'submit', class: 'primary', id: `run-${key}` }, 'Run');
    const result = h('div', { class: 'result', id: `cmd-${key}-result`, role: 'status', 'aria-live': 'polite' });
    const histBox = h('div', { class: 'history' });
    const form = h('form', { class: 'card command', id: `cmd-${key}`, novalidate: true },
        h('h2', {}, ctx.label(cap), ' ', h('code', { class: 'small' }, cap.component ? `${cap.component}*${cap.name}` : cap.name)),
        cap.description ? h('p', { class: 'muted' }, typeof cap.description === 'string' ? cap.description : JSON.stringify(cap.description)) : null,
        req ? h('div', { class: 'field' }, h('label', { for: `cmd-${key}-req` }, `${req.displayName || req.name} (${schemaName(req.schema)})`), input) : h('p', { class: 'muted small' }, 'This command takes no request.'),
        h('div', { class: 'field narrow' }, h('label', { for: `cmd-${key}-timeout` }, 'Response timeout (s)'), timeout),
        h('div', { class: 'actions' }, run),
        result,
        h('h3', {}, 'History'), histBox);
    let lastId = null;

    async function history() {
        try {
            // oldest first and paged: read it all, show the latest ten
            const all = await list(`${commandPath(ctx, cap)}?$top=1000`, { maxItems: 100000 });
            const recent = all.slice(-10).reverse();
            if (recent.length === 0) {
                clear(histBox, h('p', { class: 'muted small' }, 'Not run yet.'));
                return;
            }
            clear(histBox, h('ol', { class: 'hist' }, recent.map((c) => h('li', { class: `st-${c.status}` },
                h('time', { datetime: c.time }, fmtTime(c.time)), ' ',
                c.request !== undefined && c.request !== null ? h('code', {}, requestText(c, ctx.caps)) : null, ' ',
                h('span', {}, describeCommand(c))))));
            const last = recent.find((c) => c.id === lastId);
            if (last) {
                result.className = `result st-${last.status}`;
                result.textContent = describeCommand(last);
            }
        } catch (err) {
            clear(histBox, h('p', { class: 'msg error' }, `History cannot be read: ${errorText(err)}`));
        }
    }

    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const body = { responseTimeout: Number(timeout.value) || 30 };
        if (req) {
            try {
                body.request = readValue(input, reqCap, req.displayName || req.name);
            } catch (err) {
                result.className = 'result st-failed';
                result.textContent = err.message;
                return;
            }
        }
        run.disabled = true;
        result.className = 'result st-sent';
        result.textContent = 'Running…';
        try {
            const c = await post(commandPath(ctx, cap), body);
            lastId = c.id;
            result.className = `result st-${c.status}`;
            result.textContent = describeCommand(c);
        } catch (err) {
            result.className = 'result st-failed';
            result.textContent = `Not run: ${errorText(err)}`;
        } finally {
            run.disabled = false;
            history();
        }
    });
    return { form, cap, history };
}

async function renderCommands(panel, ctx, panelApi) {
    const cmds = ctx.caps.filter((c) => c.kind === 'command');
    if (cmds.length === 0) {
        clear(panel, h('p', { class: 'muted' }, ctx.tpl ? 'The template has no commands.' : 'The device has no template, so it has no known commands.'));
        return;
    }
    const cards = cmds.map((c) => commandCard(ctx, c));
    const histBox = h('section', { class: 'card all-commands', 'aria-labelledby': 'all-commands' });
    clear(panel, h('div', { class: 'cards' }, cards.map((c) => c.form)), histBox);
    const allHistory = commandHistory(histBox, ctx.devPath, ctx.caps);
    panelApi.on((type, data) => {
        if (type === 'command' && data) {
            for (const c of cards) if (c.cap.name === data.name && (c.cap.component || '') === (data.component || '')) c.history();
            allHistory();
        } else if (type === 'property' && data && data.payload) {
            for (const c of cards) {
                const p = c.cap.component ? data.payload[c.cap.component] : data.payload;
                if (p && Object.prototype.hasOwnProperty.call(p, c.cap.name)) {
                    setTimeout(c.history, 100);
                    setTimeout(allHistory, 100);
                }
            }
        }
    });
    await Promise.all([...cards.map((c) => c.history()), allHistory()]);
}

