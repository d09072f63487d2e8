// The application's home page: a dashboard of tiles across devices, kept on the server per
// application (iotc's own GET/PUT /api/dashboards/home, docs/API.md "Dashboards"): device
// counts by state (each a link to the devices list so filtered), last known values of chosen
// devices' telemetry, a chart of one telemetry across a template's devices, and one across the
// devices of a device group (its members now). Edit adds and removes tiles.
import uPlot from '../vendor/uPlot.esm.js';
import { ApiError, get, list, put, seg } from './api.js';
import { clear, errorText, fmtTime, fmtValue, h, notify, showError, unitText } from './ui.js';

const DASH = '/api/dashboards/home';
const DEFAULT_TILES = [{ type: 'deviceCounts', displayName: 'Devices' }, { type: 'groupChart', displayName: 'Device group chart' }];
const TYPES = [
    ['deviceCounts', 'Device counts by state'],
    ['lastValue', 'Last known value of a device\'s telemetry'],
    ['templateChart', 'Chart of a telemetry across a template\'s devices'],
    ['groupChart', 'Chart across a device group'],
];
const COLORS = ['#1f6feb', '#d9480f', '#2b8a3e', '#862e9c', '#c2255c', '#0b7285', '#5c940d', '#364fc7'];
const CHART_DEVICES = 8; // series in one template chart
const CHART_MS = 3600e3;

/** Device counts by state, as the devices list's filters name them. Pure. */
export function countDevices(devices) {
    const n = { total: devices.length, connected: 0, disconnected: 0, provisioned: 0, registered: 0, blocked: 0, unassociated: 0 };
    for (const d of devices) {
        n[d.connected ? 'connected' : 'disconnected']++;
        if (d.status in n) n[d.status]++;
    }
    return n;
}

const COUNT_ROWS = [
    ['total', 'All devices', '#/devices'],
    ['connected', 'Connected', '#/devices?conn=connected'],
    ['disconnected', 'Disconnected', '#/devices?conn=disconnected'],
    ['provisioned', 'Provisioned', '#/devices?status=provisioned'],
    ['registered', 'Registered', '#/devices?status=registered'],
    ['blocked', 'Blocked', '#/devices?status=blocked'],
    ['unassociated', 'Unassociated', '#/devices?status=unassociated'],
];

function telemetryPath(deviceId, component, name) {
    const dev = `/api/devices/${seg(deviceId)}`;
    return component ? `${dev}/components/${seg(component)}/telemetry/${seg(name)}` : `${dev}/telemetry/${seg(name)}`;
}

function tileTitle(t, ctx) {
    if (t.displayName) return t.displayName;
    const type = TYPES.find((x) => x[0] === t.type);
    if (t.type === 'lastValue') return `${ctx.capLabel(t.template || ctx.devTemplate(t.device), t.component, t.telemetry)} · ${ctx.devName(t.device)}`;
    if (t.type === 'templateChart') return `${ctx.capLabel(t.template, t.component, t.telemetry)} · ${ctx.tplName(t.template)}`;
    return type ? type[1] : t.type;
}

export async function render(main) {
    const editBtn = h('button', { type: 'button', id: 'edit-dashboard', 'aria-expanded': 'false', 'aria-controls': 'dash-editor' }, 'Edit');
    const tilesBox = h('div', { class: 'dash-tiles' }, h('p', { class: 'muted' }, 'Loading…'));
    const editor = h('section', { class: 'card dash-editor', id: 'dash-editor', hidden: true, 'aria-labelledby': 'dash-editor-h' });
    clear(main, h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Dashboard'),
        h('p', { class: 'meta' }, 'Tiles across the devices of this application, saved on the server for everyone who signs in.')),
    h('div', { class: 'actions' }, editBtn)), editor, tilesBox);

    let tiles = DEFAULT_TILES;
    let saved = false;
    let devices = [];
    let templates = [];
    let groups = [];
    const tplCache = new Map();
    const charts = [];
    let editing = false;

    const ctx = {
        devName: (id) => {
            const d = devices.find((x) => x.id === id);
            return d ? d.displayName || d.id : id;
        },
        devTemplate: (id) => {
            const d = devices.find((x) => x.id === id);
            return d ? d.template : null;
        },
        tplName: (id) => {
            const t = templates.find((x) => x['@id'] === id);
            return t ? t.displayName || id : id;
        },
        capLabel: (tplId, component, name) => {
            const cap = ctx.cap(tplId, component, name);
            return (cap && cap.displayName) || name;
        },
        cap: (tplId, component, name) => {
            const t = tplCache.get(tplId);
            return t && (t.capabilities || []).find((c) => c.kind === 'telemetry' && c.name === name && (c.component || '') === (component || ''));
        },
    };

    async function template(id) {
        if (!id) return null;
        if (!tplCache.has(id)) {
            try {
                tplCache.set(id, await get(`/api/deviceTemplates/${seg(id)}`));
            } catch {
                tplCache.set(id, null);
            }
        }
        return tplCache.get(id);
    }

    async function save(next) {
        await put(DASH, { displayName: 'Dashboard', tiles: next });
        tiles = next;
        saved = true;
        notify('Dashboard saved.');
        await draw();
        drawEditor();
    }

    function countsTile(t) {
        const n = countDevices(devices);
        return h('ul', { class: 'counts' }, COUNT_ROWS.map(([k, label, href]) =>
            h('li', { dataset: { count: k } }, h('a', { href, 'aria-label': `${label}: ${n[k]}` }, h('strong', {}, String(n[k])), h('span', {}, label)))));
    }

    async function lastValueTile(t) {
        const dev = devices.find((d) => d.id === t.device);
        if (!dev) return h('p', { class: 'muted' }, `Device ${t.device} does not exist (any more).`);
        await template(dev.template);
        const cap = ctx.cap(dev.template, t.component, t.telemetry);
        let v = null;
        try {
            v = await get(telemetryPath(t.device, t.component, t.telemetry));
        } catch (err) {
            if (!(err instanceof ApiError && err.status === 404)) return h('p', { class: 'msg error' }, errorText(err));
        }
        const unit = cap ? unitText(cap.unit) : '';
        return h('div', {},
            h('p', { class: 'bigvalue', dataset: { telemetry: t.telemetry } }, v ? `${fmtValue(v.value, cap)}${unit && typeof v.value === 'number' ? ` ${unit}` : ''}` : '—'),
            h('p', { class: 'muted small' }, v ? `at ${fmtTime(v.timestamp)} · ` : 'No value received yet · ',
                h('a', { href: `#/devices/${encodeURIComponent(t.device)}` }, ctx.devName(t.device))));
    }

    async function templateChartTile(t) {
        await template(t.template);
        return chartOf(t, devices.filter((d) => d.template === t.template), ctx.cap(t.template, t.component, t.telemetry), `devices of ${ctx.tplName(t.template)}`);
    }

    // One telemetry of devices @p of (the first CHART_DEVICES) over the past hour.
    async function chartOf(t, of, cap, whose) {
        const shown = of.slice(0, CHART_DEVICES);
        const from = new Date(Date.now() - CHART_MS).toISOString();
        const series = await Promise.all(shown.map(async (d) => {
            try {
                const items = await list(`${telemetryPath(d.id, t.component, t.telemetry)}/history?from=${encodeURIComponent(from)}&$top=1000`, { maxItems: 5000 });
                return items.filter((x) => typeof x.value === 'number').map((x) => [Date.parse(x.timestamp) / 1000, x.value]);
            } catch {
                return [];
            }
        }));
        const points = series.reduce((a, s) => a + s.length, 0);
        const note = h('p', { class: 'muted small' }, `Past hour · ${shown.length} of ${of.length} ${whose}`,
            of.length > shown.length ? ` (the first ${CHART_DEVICES})` : '', ` · ${points} points`);
        if (points === 0) return h('div', {}, note, h('p', { class: 'muted' }, 'No data in the past hour.'));
        // one x axis for all devices: the union of the times, a gap where a device has none
        const xs = [...new Set(series.flatMap((s) => s.map((p) => p[0])))].sort((a, b) => a - b);
        const idx = new Map(xs.map((x, i) => [x, i]));
        const data = [xs, ...series.map((s) => {
            const ys = new Array(xs.length).fill(null);
            for (const [x, y] of s) ys[idx.get(x)] = y;
            return ys;
        })];
        const unit = cap ? unitText(cap.unit) : '';
        const box = h('div', { class: 'chart', role: 'img', 'aria-label': `${tileTitle(t, ctx)}: line chart of ${points} points from ${shown.length} devices` });
        const wrap = h('div', { dataset: { points: String(points) } }, note, box);
        requestAnimationFrame(() => {
            if (!box.isConnected) return;
            const width = Math.max(240, box.clientWidth);
            charts.push(new uPlot({
                width, height: 220, spanGaps: true,
                scales: { x: { time: true, range: [Date.now() / 1000 - CHART_MS / 1000, Date.now() / 1000] } },
                axes: [{}, { label: unit || undefined }],
                series: [{}, ...shown.map((d, i) => ({ label: d.displayName || d.id, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true }))],
            }, data, box));
        });
        return wrap;
    }

    async function groupChartTile(t) {
        if (!t.group || !t.telemetry) {
            return h('p', { class: 'muted' }, 'Choose a device group and a telemetry: Edit, remove this tile and add a "Chart across a device group" tile.');
        }
        let of;
        try {
            of = await list(`/api/deviceGroups/${seg(t.group)}/devices`);
        } catch (err) {
            if (err instanceof ApiError && err.status === 404) return h('p', { class: 'muted' }, `Device group ${t.group} does not exist (any more).`);
            throw err;
        }
        const tpl = t.template || (of.find((d) => d.template) || {}).template;
        if (tpl) await template(tpl);
        return chartOf(t, of, tpl ? ctx.cap(tpl, t.component, t.telemetry) : null, `devices of group ${t.group}`);
    }

    async function tileBody(t) {
        try {
            if (t.type === 'deviceCounts') return countsTile(t);
            if (t.type === 'lastValue') return await lastValueTile(t);
            if (t.type === 'templateChart') return await templateChartTile(t);
            return await groupChartTile(t);
        } catch (err) {
            return h('p', { class: 'msg error' }, errorText(err));
        }
    }

    async function draw() {
        [devices, templates, groups] = await Promise.all([list('/api/devices'), list('/api/deviceTemplates'), list('/api/deviceGroups').catch(() => [])]);
        const bodies = await Promise.all(tiles.map(tileBody));
        while (charts.length) charts.pop().destroy();
        const cards = tiles.map((t, i) => {
            const title = tileTitle(t, ctx);
            const hid = `tile-${i}-h`;
            const rm = editing ? h('button', { type: 'button', class: 'small danger', 'aria-label': `Remove tile ${title}`, dataset: { remove: String(i) } }, 'Remove') : null;
            if (rm) {
                rm.addEventListener('click', async () => {
                    try {
                        await save(tiles.filter((_, k) => k !== i));
                    } catch (err) {
                        showError('The dashboard was not saved', err);
                        return;
                    }
                    // the keyboard goes to the next tile's Remove button (or the editor)
                    const buttons = tilesBox.querySelectorAll('button[data-remove]');
                    (buttons[Math.min(i, buttons.length - 1)] || editor.querySelector('#tile-type')).focus();
                });
            }
            return h('section', { class: `card dash-tile t-${t.type}`, 'aria-labelledby': hid, dataset: { type: t.type } },
                h('div', { class: 'tile-head' }, h('h2', { id: hid }, title), rm), bodies[i]);
        });
        // redrawn every few seconds: keep the keyboard focus on the same link or button
        const f = document.activeElement;
        const focusSel = f && tilesBox.contains(f) && f.getAttribute('aria-label') ? `[aria-label="${CSS.escape(f.getAttribute('aria-label'))}"]` : null;
        clear(tilesBox, cards.length ? cards : h('p', { class: 'muted' }, 'No tiles: choose Edit to add some.'));
        const again = focusSel && tilesBox.querySelector(focusSel);
        if (again) again.focus();
    }

    function drawEditor() {
        const typeSel = h('select', { id: 'tile-type' }, TYPES.map(([v, label]) => h('option', { value: v }, label)));
        const nameIn = h('input', { id: 'tile-name', type: 'text', placeholder: 'Optional' });
        const devSel = h('select', { id: 'tile-device' }, devices.map((d) => h('option', { value: d.id }, `${d.displayName || d.id} (${d.id})`)));
        const grpSel = h('select', { id: 'tile-group' }, groups.map((g) => h('option', { value: g.id }, g.displayName || g.id)));
        const grpField = h('div', { class: 'field' }, h('label', { for: 'tile-group' }, 'Device group'), grpSel);
        const tplSel = h('select', { id: 'tile-template' }, templates.filter((t) => t.published).map((t) => h('option', { value: t['@id'] }, t.displayName || t['@id'])));
        const telSel = h('select', { id: 'tile-telemetry' });
        const devField = h('div', { class: 'field' }, h('label', { for: 'tile-device' }, 'Device'), devSel);
        const tplField = h('div', { class: 'field' }, h('label', { for: 'tile-template' }, 'Device template'), tplSel);
        const telField = h('div', { class: 'field' }, h('label', { for: 'tile-telemetry' }, 'Telemetry'), telSel);
        const hint = h('p', { class: 'muted small', id: 'tile-hint', 'aria-live': 'polite' });
        const add = h('button', { type: 'submit', class: 'primary', id: 'add-tile' }, 'Add tile');
        const fillTelemetry = async () => {
            const tplId = typeSel.value === 'lastValue' ? ctx.devTemplate(devSel.value) : tplSel.value;
            const t = await template(tplId);
            const caps = ((t && t.capabilities) || []).filter((c) => c.kind === 'telemetry');
            clear(telSel, caps.map((c) => h('option', { value: `${c.component || ''}/${c.name}` }, `${c.displayName || c.name}${c.component ? ` (${c.component})` : ''}`)));
            hint.textContent = caps.length ? '' : (tplId ? 'This template has no telemetry.' : 'This device has no template, so no known telemetry.');
            add.disabled = caps.length === 0;
        };
        const onType = async () => {
            const ty = typeSel.value;
            devField.hidden = ty !== 'lastValue';
            tplField.hidden = !(ty === 'templateChart' || ty === 'groupChart');
            grpField.hidden = ty !== 'groupChart';
            telField.hidden = !(ty === 'lastValue' || ty === 'templateChart' || ty === 'groupChart');
            add.disabled = false;
            hint.textContent = ty === 'groupChart' && groups.length === 0 ? 'There are no device groups yet: create one on the Device groups page.' : '';
            if (!telField.hidden) await fillTelemetry();
            if (ty === 'groupChart' && groups.length === 0) add.disabled = true;
        };
        typeSel.addEventListener('change', onType);
        devSel.addEventListener('change', fillTelemetry);
        tplSel.addEventListener('change', fillTelemetry);
        const form = h('form', { id: 'tile-form', novalidate: true },
            h('div', { class: 'toolbar' },
                h('div', { class: 'field' }, h('label', { for: 'tile-type' }, 'Tile'), typeSel),
                devField, grpField, tplField, telField,
                h('div', { class: 'field' }, h('label', { for: 'tile-name' }, 'Tile name'), nameIn)),
            hint, h('div', { class: 'actions' }, add, h('button', { type: 'button', id: 'done-editing', onclick: () => setEditing(false) }, 'Done')));
        form.addEventListener('submit', async (ev) => {
            ev.preventDefault();
            const t = { type: typeSel.value };
            if (nameIn.value.trim()) t.displayName = nameIn.value.trim();
            if (t.type === 'lastValue') t.device = devSel.value;
            if (t.type === 'templateChart' || t.type === 'groupChart') t.template = tplSel.value;
            if (t.type === 'groupChart') t.group = grpSel.value;
            if (t.type === 'lastValue' || t.type === 'templateChart' || t.type === 'groupChart') {
                const [component, name] = telSel.value.split('/');
                if (!name) return;
                if (component) t.component = component;
                t.telemetry = name;
            }
            try {
                await save([...tiles, t]);
            } catch (err) {
                showError('The tile was not added', err);
            }
        });
        clear(editor, h('h2', { id: 'dash-editor-h' }, 'Edit the dashboard'),
            h('p', { class: 'muted' }, saved ? 'Add a tile, or remove one with its Remove button.' : 'This is the starting dashboard; adding or removing a tile saves it.'),
            form);
        onType();
    }

    async function setEditing(on) {
        editing = on;
        editor.hidden = !on;
        editBtn.setAttribute('aria-expanded', on ? 'true' : 'false');
        editBtn.textContent = on ? 'Editing…' : 'Edit';
        await draw();
        if (on) {
            drawEditor();
            editor.querySelector('#tile-type').focus();
        } else {
            editBtn.focus();
        }
    }
    editBtn.addEventListener('click', () => setEditing(!editing).catch((err) => showError('The dashboard cannot be edited', err)));

    try {
        const d = await get(DASH);
        tiles = d.tiles || [];
        saved = true;
    } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) showError('The saved dashboard cannot be read', err);
    }
    await draw();
    // counts and values change by themselves: refresh every 10 s, not while editing
    const timer = setInterval(() => {
        if (!editing && !document.querySelector('dialog[open]')) draw().catch(() => {});
    }, 10000);
    return () => {
        clearInterval(timer);
        while (charts.length) charts.pop().destroy();
    };
}
