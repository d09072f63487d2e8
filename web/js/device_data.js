// The device's data tabs: dashboards (uPlot line charts and last known values, live),
// Raw data (everything the device sent, with a column chooser and unmodeled data), and the
// Conformance report.
import uPlot from '../vendor/uPlot.esm.js';
import { get, sameOrigin, seg } from './api.js';
import { badge, clear, errorText, fmtTime, fmtValue, h, showError, table, unitText } from './ui.js';

const RANGES = [
    ['5m', 'Past 5 minutes', 5 * 60e3],
    ['30m', 'Past 30 minutes', 30 * 60e3],
    ['1h', 'Past hour', 3600e3],
    ['12h', 'Past 12 hours', 12 * 3600e3],
    ['24h', 'Past 24 hours', 24 * 3600e3],
    ['7d', 'Past week', 7 * 24 * 3600e3],
];
const COLORS = ['#1f6feb', '#d9480f', '#2b8a3e', '#862e9c', '#e8590c', '#0b7285'];

function rangeSelect(id, dflt, onChange) {
    const sel = h('select', { id }, RANGES.map(([v, label]) => h('option', { value: v, selected: v === dflt }, label)));
    sel.addEventListener('change', () => onChange(sel.value));
    return h('div', { class: 'field inline' }, h('label', { for: id }, 'Time range'), sel);
}

const rangeMs = (v) => (RANGES.find((r) => r[0] === v) || RANGES[1])[2];

function telemetryPath(ctx, component, name) {
    return component
        ? `${ctx.devPath}/components/${seg(component)}/telemetry/${seg(name)}`
        : `${ctx.devPath}/telemetry/${seg(name)}`;
}

/* ------------------------------------------------------------------ dashboards */

/** Live messages are drawn as points of their own while a bucket is at most this wide. */
const LIVE_RAW_MAX_BUCKET_MS = 60e3;
const AGGS = [['avg', 'Average'], ['min', 'Minimum'], ['max', 'Maximum']];

function aggSelect(id, dflt, onChange) {
    const sel = h('select', { id }, AGGS.map(([v, label]) => h('option', { value: v, selected: v === dflt }, label)));
    sel.addEventListener('change', () => onChange(sel.value));
    return h('div', { class: 'field inline' }, h('label', { for: id }, 'Aggregation'), sel);
}

/** "6 s", "2 min", "1.5 h": the width of one bucket. */
function fmtSpan(ms) {
    if (ms < 60e3) return `${Number((ms / 1e3).toFixed(1))} s`;
    if (ms < 3600e3) return `${Number((ms / 60e3).toFixed(1))} min`;
    return `${Number((ms / 3600e3).toFixed(1))} h`;
}

/**
 * A line chart of telemetry over the chosen range: the x axis spans the whole range (to now),
 * the points are the server's buckets (avg/min/max of each, GET .../series), one bucket for
 * about every 3 pixels, so a week costs the same as five minutes; live messages are added as
 * they come.
 */
function lineTile(ctx, tile, state) {
    const series = (tile.capabilities || []).map((ref, i) => {
        const cap = ctx.cap(ref.component, ref.name);
        return { ref, cap, color: COLORS[i % COLORS.length], unit: cap ? unitText(cap.unit) : '', xs: [], ys: [] };
    });
    const lastBox = h('p', { class: 'last' });
    const aggLine = h('p', { class: 'muted small agg' });
    const chartBox = h('div', { class: 'chart', role: 'img' });
    const card = h('section', { class: 'card tile' }, h('h2', {}, tile.displayName), lastBox, chartBox, aggLine);
    let plot = null;
    let span = { from: 0, to: 0, bucketMs: 0 };

    function label(s) {
        return s.cap ? ctx.label(s.cap) : s.ref.name;
    }
    function drawLast() {
        clear(lastBox, series.map((s) => {
            const n = s.ys.length;
            const v = n ? s.ys[n - 1] : null;
            return h('span', { class: 'lastval' },
                h('span', { class: 'swatch', style: `background:${s.color}` }), `${label(s)}: `,
                h('strong', { dataset: { telemetry: s.ref.name } }, v === null ? '—' : `${Number(v.toFixed(2))}${s.unit ? ` ${s.unit}` : ''}`),
                n ? h('span', { class: 'muted small' }, ` at ${new Date(s.xs[n - 1] * 1000).toLocaleTimeString()}`) : null);
        }));
        const total = series.reduce((a, s) => a + s.ys.length, 0);
        if (total === 0) lastBox.append(h('span', { class: 'muted' }, 'No data in this time range yet.'));
        const aggName = (AGGS.find((a) => a[0] === state.agg) || AGGS[0])[1];
        const rangeName = (RANGES.find((r) => r[0] === state.range) || RANGES[1])[1];
        aggLine.textContent = span.bucketMs ? `${rangeName}, ${aggName.toLowerCase()} of every ${fmtSpan(span.bucketMs)}` : '';
        chartBox.setAttribute('aria-label', `${tile.displayName}: line chart of ${total} points, ${rangeName.toLowerCase()}, ${aggName.toLowerCase()} per ${fmtSpan(span.bucketMs || 0)}`);
        card.dataset.points = String(total);
        if (plot) {
            card.dataset.xMin = String(plot.scales.x.min);
            card.dataset.xMax = String(plot.scales.x.max);
        }
    }
    function data() {
        // one x axis: the union of every series' times, gaps where a series has no value
        const xs = [...new Set(series.flatMap((s) => s.xs))].sort((a, b) => a - b);
        const cols = series.map((s) => {
            const m = new Map(s.xs.map((x, i) => [x, s.ys[i]]));
            return xs.map((x) => (m.has(x) ? m.get(x) : null));
        });
        return [xs, ...cols];
    }
    function draw() {
        const width = Math.max(260, chartBox.clientWidth || 600);
        if (!plot) {
            plot = new uPlot({
                width, height: 220,
                cursor: { drag: { x: false, y: false } },
                legend: { show: series.length > 1 },
                // the chosen range, whatever the data covers
                scales: { x: { time: true, range: () => [span.from / 1000, span.to / 1000] } },
                series: [{}, ...series.map((s) => ({
                    label: `${label(s)}${s.unit ? ` (${s.unit})` : ''}`, stroke: s.color, width: 2, spanGaps: true,
                    points: { show: true, size: 4 },
                    value: (u, v) => (v === null || v === undefined ? '—' : `${Number(v.toFixed(2))}${s.unit ? ` ${s.unit}` : ''}`),
                }))],
                axes: [{}, { size: 56, values: (u, vals) => vals.map((v) => `${v}${series[0] && series[0].unit ? ` ${series[0].unit}` : ''}`) }],
            }, data(), chartBox);
        } else {
            plot.setData(data());
        }
        drawLast();
    }
    async function load() {
        const to = Date.now();
        const from = to - rangeMs(state.range);
        const buckets = Math.max(20, Math.min(1000, Math.floor((chartBox.clientWidth || 600) / 3)));
        const q = `from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}&buckets=${buckets}&agg=${state.agg}`;
        const answers = await Promise.all(series.map((s) => get(`${telemetryPath(ctx, s.ref.component, s.ref.name)}/series?${q}`)));
        span = { from, to, bucketMs: (to - from) / buckets };
        series.forEach((s, i) => {
            s.xs = [];
            s.ys = [];
            for (const b of answers[i].value || []) {
                // a bucket's point sits in its middle
                s.xs.push((Date.parse(b.timestamp) + Date.parse(b.end)) / 2000);
                s.ys.push(b.value);
            }
        });
        draw();
    }
    let reloadTimer = null;
    let lastReload = 0;
    function onTelemetry(ev) {
        const t = Date.parse(ev.time) / 1000;
        if (span.bucketMs > LIVE_RAW_MAX_BUCKET_MS) {
            // wide buckets: a raw point would not be one of them; ask for the buckets again, at most every 10 s
            if (!reloadTimer) {
                reloadTimer = setTimeout(() => {
                    reloadTimer = null;
                    lastReload = Date.now();
                    load().catch(() => {});
                }, Math.max(0, lastReload + 10000 - Date.now()));
            }
            return;
        }
        let changed = false;
        for (const s of series) {
            if ((ev.component || '') !== (s.ref.component || '')) continue;
            const v = ev.payload && ev.payload[s.ref.name];
            if (typeof v !== 'number') continue;
            s.xs.push(t);
            s.ys.push(v);
            changed = true;
        }
        if (!changed) return;
        // the range slides with the clock
        span.to = Math.max(span.to, Date.now(), t * 1000);
        span.from = span.to - rangeMs(state.range);
        for (const s of series) {
            while (s.xs.length && s.xs[0] < span.from / 1000) {
                s.xs.shift();
                s.ys.shift();
            }
        }
        draw();
    }
    const resize = () => plot && plot.setSize({ width: Math.max(260, chartBox.clientWidth), height: 220 });
    return {
        card, load, onTelemetry, resize,
        destroy: () => {
            clearTimeout(reloadTimer);
            if (plot) plot.destroy();
        },
    };
}

function valueTile(ctx, tile) {
    const ref = (tile.capabilities || [])[0] || {};
    const cap = ctx.cap(ref.component, ref.name);
    const out = h('p', { class: 'bigvalue', dataset: { telemetry: ref.name } }, '—');
    const when = h('p', { class: 'muted small' });
    const card = h('section', { class: 'card tile' }, h('h2', {}, tile.displayName), out, when);
    const show = (v, t) => {
        out.textContent = `${fmtValue(v, cap, cap && ctx.custom[ref.name])}${cap && cap.unit ? ` ${unitText(cap.unit)}` : ''}`;
        when.textContent = t ? `at ${fmtTime(t)}` : '';
    };
    return {
        card,
        async load() {
            try {
                const v = await get(telemetryPath(ctx, ref.component, ref.name));
                show(v.value, v.timestamp);
            } catch (err) {
                if (err.status === 404) when.textContent = 'No data yet.';
                else when.textContent = `Cannot be read: ${errorText(err)}`;
            }
        },
        onTelemetry(ev) {
            if ((ev.component || '') === (ref.component || '') && ev.payload && ref.name in ev.payload) show(ev.payload[ref.name], ev.time);
        },
        resize() {},
        destroy() {},
    };
}

/** A property's value (the device's report, or the value asked for), with its sync state. */
function propertyTile(ctx, tile) {
    const ref = (tile.capabilities || [])[0] || {};
    const cap = ctx.cap(ref.component, ref.name);
    const out = h('p', { class: 'bigvalue', dataset: { property: ref.name } }, '—');
    const when = h('p', { class: 'muted small' });
    const card = h('section', { class: 'card tile' }, h('h2', {}, tile.displayName), out, when);
    const path = ref.component ? `${ctx.devPath}/components/${seg(ref.component)}/properties` : `${ctx.devPath}/properties`;
    let t = null;
    async function load() {
        try {
            const props = await get(path);
            const md = (props.$metadata || {})[ref.name] || {};
            if (!(ref.name in props)) {
                out.textContent = '—';
                when.textContent = 'Not reported yet.';
                return;
            }
            out.textContent = `${fmtValue(props[ref.name], cap, cap && ctx.custom[ref.name])}${cap && cap.unit ? ` ${unitText(cap.unit)}` : ''}`;
            when.textContent = [md.state ? `${md.state[0].toUpperCase()}${md.state.slice(1)}` : '', md.lastUpdateTime ? `updated ${fmtTime(md.lastUpdateTime)}` : '']
                .filter(Boolean).join(', ');
        } catch (err) {
            when.textContent = `Cannot be read: ${errorText(err)}`;
        }
    }
    return {
        card, load,
        onTelemetry() {},
        onProperty() {
            clearTimeout(t);
            t = setTimeout(load, 500);
        },
        resize() {},
        destroy: () => clearTimeout(t),
    };
}

export async function renderDashboard(panel, view, ctx, panelApi) {
    const state = { range: '30m', agg: 'avg' };
    const tiles = (view.tiles || []).map((t) => {
        if (t.type === 'lineChart') return lineTile(ctx, t, state);
        if (t.type === 'lastKnownValue') return valueTile(ctx, t);
        if (t.type === 'property') return propertyTile(ctx, t);
        const link = h('a', { href: `#/devices/${encodeURIComponent(ctx.id)}/commands` }, 'Open Commands');
        return { card: h('section', { class: 'card tile' }, h('h2', {}, t.displayName), h('p', {}, link)), load: async () => {}, onTelemetry() {}, resize() {}, destroy() {} };
    });
    const reload = () => Promise.all(tiles.map((t) => t.load())).catch((err) => showError('Telemetry cannot be read', err));
    clear(panel,
        h('div', { class: 'toolbar' }, rangeSelect('range', state.range, (v) => { state.range = v; reload(); }),
            aggSelect('agg', state.agg, (v) => { state.agg = v; reload(); })),
        tiles.length ? h('div', { class: 'tiles' }, tiles.map((t) => t.card)) : h('p', { class: 'muted' }, 'This dashboard has no tiles.'));
    const ro = new ResizeObserver(() => tiles.forEach((t) => t.resize()));
    ro.observe(panel);
    panelApi.on((type, data) => {
        if (type === 'telemetry') tiles.forEach((t) => t.onTelemetry(data));
        if (type === 'property' || type === 'desired') tiles.forEach((t) => t.onProperty && t.onProperty(data));
    });
    panelApi.cleanup(() => {
        ro.disconnect();
        tiles.forEach((t) => t.destroy());
    });
    await reload();
}

/* ------------------------------------------------------------------ raw data */

/** A writable property's acknowledgement ({value, ac, av, ad}) as the device reported it. */
function ackOf(cap, v) {
    return cap && cap.writable && v && typeof v === 'object' && !Array.isArray(v) && 'value' in v && ('ac' in v || 'av' in v) ? v : null;
}

const RAW_PAGE = 200;

/** Properties of a message that the hub or the device library set ($.ct, $.mid, iothub-*), and the device's own. */
function splitProperties(props) {
    const sys = {};
    const app = {};
    for (const [k, v] of Object.entries(props || {})) {
        if (k.startsWith('$.') || k.startsWith('iothub-')) sys[k] = v;
        else app[k] = v;
    }
    return { sys, app };
}

/** A CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
function csvField(v) {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Offer @p text as a file named @p name (generated in the browser, nothing is sent). */
function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = h('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export async function renderRaw(panel, ctx, panelApi) {
    const state = { range: '30m' };
    // telemetry first, then properties and command completions; a capability column is shown only when a row has it
    const byKind = (k) => ctx.caps.filter((c) => c.kind === k).map((c) => c.name);
    const capNames = [...new Set([...byKind('telemetry'), ...byKind('property'), ...byKind('command')])];
    const capOf = (n) => ctx.caps.find((c) => c.name === n);
    const when = (r) => new Date(r.time).toLocaleTimeString();
    const rowKey = (r) => r.id || `${r.time}|${r.type}|${r.component || ''}`;
    const expanded = new Set(); // rows whose details are open, kept across redraws
    const json1 = (x) => (x === undefined ? '' : typeof x === 'string' ? x : JSON.stringify(x));
    const cols = [
        { id: 'time', label: 'Time', on: true, cell: (r) => h('time', { datetime: r.time, title: fmtTime(r.time) }, when(r)), text: (r) => r.time },
        { id: 'type', label: 'Message type', on: true, cell: (r) => r.type },
        // a count here, the messages in the row's details: long texts would hide the column and stretch the rows
        {
            id: 'errors', label: 'Errors', on: true,
            cell: (r) => (r.errors && r.errors.length ? badge(`${r.errors.length} error${r.errors.length === 1 ? '' : 's'}`, 'bad') : ''),
            text: (r) => (r.errors || []).join('; '),
        },
        { id: 'component', label: 'Component', on: false, cell: (r) => r.component || '' },
        ...capNames.map((n) => {
            const cap = capOf(n);
            const valueOf = (r) => {
                const v = r.modeled[n];
                const ack = ackOf(cap, v);
                return ack ? ack.value : v;
            };
            return {
                id: `cap:${n}`, label: ctx.label(cap), on: true, cap: n,
                cell: (r) => {
                    if (!r.modeled || !(n in r.modeled)) return '';
                    const v = valueOf(r);
                    const text = fmtValue(v, cap, ctx.custom[n]);
                    // objects (command completions, complex values) on one line: the details show them whole
                    return typeof v === 'object' ? h('code', { class: 'clip', title: text }, text) : text;
                },
                text: (r) => (r.modeled && n in r.modeled ? json1(valueOf(r)) : ''),
            };
        }),
        {
            id: 'unmodeled', label: 'Unmodeled data', on: true,
            cell: (r) => (r.unmodeled && Object.keys(r.unmodeled).length ? h('code', { class: 'clip', title: JSON.stringify(r.unmodeled) }, JSON.stringify(r.unmodeled)) : ''),
            text: (r) => (r.unmodeled && Object.keys(r.unmodeled).length ? JSON.stringify(r.unmodeled) : ''),
        },
        { id: 'properties', label: 'Message properties', on: false, cell: (r) => (r.messageProperties ? JSON.stringify(r.messageProperties) : '') },
        { id: 'payload', label: 'Raw payload', on: false, cell: (r) => (r.payload !== undefined ? h('code', {}, json1(r.payload)) : ''), text: (r) => json1(r.payload) },
    ];
    const chooser = h('details', { class: 'chooser' }, h('summary', {}, 'Columns'),
        h('div', { class: 'ticks' }, cols.map((c) => {
            const box = h('input', { type: 'checkbox', id: `col-${c.id.replace(/[^A-Za-z0-9_-]/g, '_')}`, checked: c.on });
            box.addEventListener('change', () => { c.on = box.checked; draw(); });
            return h('div', { class: 'tick' }, box, h('label', { for: box.id }, c.label));
        })));
    const refresh = h('button', { type: 'button', id: 'raw-refresh' }, 'Refresh');
    const csvBtn = h('button', { type: 'button', id: 'raw-csv' }, 'Export CSV');
    const jsonBtn = h('button', { type: 'button', id: 'raw-json' }, 'Export JSON');
    const count = h('span', { class: 'muted', role: 'status' });
    const tableBox = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
    const more = h('button', { type: 'button', id: 'raw-more', hidden: true }, 'Load older messages');
    const moreBox = h('p', { class: 'more' }, more);
    clear(panel, h('div', { class: 'toolbar' }, rangeSelect('raw-range', state.range, (v) => { state.range = v; load(); }), refresh, chooser, csvBtn, jsonBtn, count), tableBox, moreBox);
    let rows = []; // newest first: the pages read so far
    let next = null; // nextLink of the last page, or null when every message of the range is here
    let gen = 0; // a new load() makes older pages' answers void

    /** The row's details: the whole message (errors in full, acknowledgements, properties, the payload). */
    function details(r, id, name) {
        const acks = [];
        for (const [n, v] of Object.entries(r.modeled || {})) {
            const ack = ackOf(capOf(n), v);
            if (!ack) continue;
            const cap = capOf(n);
            acks.push(h('li', {}, `${ctx.label(cap)}: ${fmtValue(ack.value, cap, ctx.custom[n])}, acknowledged`,
                ack.ac !== undefined ? ` with code ${ack.ac}` : '', ack.ad ? ` (${ack.ad})` : '',
                ack.av !== undefined ? ` for version ${ack.av}` : '', '.'));
        }
        const json = (x) => h('pre', {}, h('code', {}, typeof x === 'string' ? x : JSON.stringify(x, null, 1)));
        const { sys, app } = splitProperties(r.messageProperties);
        const facts = [['Received', fmtTime(r.time)], ['Message type', r.type]];
        if (r.component) facts.push(['Component', r.component]);
        if (r.id) facts.push(['Store id', r.id]);
        return h('section', { class: 'raw-detail', id, role: 'region', 'aria-label': name },
            h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
            r.errors && r.errors.length ? [h('h3', {}, 'Errors'), h('ul', { class: 'bad-text' }, r.errors.map((e) => h('li', {}, e)))]
                : (r.errors ? h('p', {}, 'Valid against the template: no errors.') : null),
            acks.length ? [h('h3', {}, 'Acknowledgements'), h('ul', {}, acks)] : null,
            Object.keys(app).length ? [h('h3', {}, 'Application properties'), json(app)] : null,
            Object.keys(sys).length ? [h('h3', {}, 'System properties'), json(sys)] : null,
            r.payload !== undefined ? [h('h3', {}, 'Payload'), json(r.payload)] : null);
    }

    const shownCols = () => cols.filter((c) => c.on && (!c.cap || rows.some((r) => r.modeled && c.cap in r.modeled)));

    function draw() {
        const shown = shownCols();
        const n = rows.length;
        count.textContent = `${n} message${n === 1 ? '' : 's'}${next ? ' shown, older ones not loaded yet' : ''}`;
        more.hidden = !next;
        csvBtn.disabled = jsonBtn.disabled = n === 0;
        if (n === 0) {
            clear(tableBox, h('p', { class: 'muted' }, 'Nothing received in this time range.'));
            return;
        }
        const trs = [];
        rows.forEach((r, i) => {
            const key = rowKey(r);
            const open = expanded.has(key);
            const id = `raw-detail-${i}`;
            const name = `Details of the ${r.type} message at ${when(r)}`;
            const toggle = h('button', {
                type: 'button', class: 'disclosure', 'aria-expanded': String(open), 'aria-controls': id, 'aria-label': name, title: name,
            }, open ? '▾' : '▸');
            toggle.addEventListener('click', () => {
                if (expanded.has(key)) expanded.delete(key);
                else expanded.add(key);
                draw();
                const again = tableBox.querySelector(`[aria-controls="${id}"]`);
                if (again) again.focus();
            });
            trs.push(h('tr', { class: `raw-${r.type}` }, shown.map((c, k) => h('td', {}, k === 0 ? [toggle, ' '] : null, c.cell(r)))));
            if (open) trs.push(h('tr', { class: 'raw-details' }, h('td', { colspan: shown.length }, details(r, id, name))));
        });
        clear(tableBox, table(null, shown.map((c) => c.label), trs, { className: 'raw' }));
    }
    function firstPage() {
        const from = new Date(Date.now() - rangeMs(state.range)).toISOString();
        return get(`${ctx.devPath}/rawData?from=${encodeURIComponent(from)}&$top=${RAW_PAGE}&order=desc`);
    }
    async function load() {
        const my = ++gen;
        try {
            const page = await firstPage();
            if (my !== gen) return;
            rows = page.value || [];
            next = page.nextLink ? sameOrigin(page.nextLink) : null;
            draw();
        } catch (err) {
            if (my === gen) clear(tableBox, h('p', { class: 'msg error', role: 'alert' }, `Raw data cannot be read: ${errorText(err)}`));
        }
    }
    /** The next page of older messages (the server's cursor), added at the end. */
    async function loadOlder() {
        if (!next) return;
        const my = gen;
        more.disabled = true;
        try {
            const page = await get(next);
            if (my !== gen) return;
            const have = new Set(rows.map(rowKey));
            rows = rows.concat((page.value || []).filter((r) => !have.has(rowKey(r))));
            next = page.nextLink ? sameOrigin(page.nextLink) : null;
            draw();
        } catch (err) {
            showError('Older raw data cannot be read', err);
        } finally {
            more.disabled = false;
        }
    }
    /** New messages (live updates): the newest pages down to the first row already shown, merged in front. */
    async function loadNewer() {
        const my = gen;
        try {
            const have = new Set(rows.map(rowKey));
            const fresh = [];
            let page = await firstPage();
            let link = null;
            let joined = false;
            for (let i = 0; ; i++) {
                if (my !== gen) return;
                const items = page.value || [];
                joined = items.some((r) => have.has(rowKey(r)));
                fresh.push(...items.filter((r) => !have.has(rowKey(r))));
                link = page.nextLink ? sameOrigin(page.nextLink) : null;
                if (joined || !link || rows.length === 0 || i === 4) break;
                page = await get(link);
            }
            if (fresh.length === 0) return;
            if (joined || (rows.length > 0 && !link)) {
                rows = fresh.concat(rows);
            } else {
                // nothing shown yet, or more than five pages of news: start over from the newest
                // rows, with the cursor after them (no gap between what is shown and Load older)
                rows = fresh;
                next = link;
            }
            draw();
        } catch (err) {
            showError('Raw data cannot be read', err);
        }
    }
    function stamp() {
        return new Date().toISOString().replace(/[:.]/g, '-');
    }
    csvBtn.addEventListener('click', () => {
        const shown = shownCols();
        const text = (c, r) => {
            if (c.text) return c.text(r);
            const v = c.cell(r);
            return v instanceof Node ? v.textContent : v;
        };
        const lines = [shown.map((c) => csvField(c.label)).join(',')]
            .concat(rows.map((r) => shown.map((c) => csvField(text(c, r))).join(',')));
        download(`${ctx.id}-raw-data-${stamp()}.csv`, 'text/csv', `${lines.join('\r\n')}\r\n`);
    });
    jsonBtn.addEventListener('click', () => {
        download(`${ctx.id}-raw-data-${stamp()}.json`, 'application/json', `${JSON.stringify(rows, null, 1)}\n`);
    });
    refresh.addEventListener('click', load);
    more.addEventListener('click', loadOlder);
    let t = null;
    panelApi.on((type) => {
        if (!['telemetry', 'property', 'connection'].includes(type)) return;
        clearTimeout(t);
        t = setTimeout(loadNewer, 700);
    });
    panelApi.cleanup(() => clearTimeout(t));
    await load();
}

/* ------------------------------------------------------------------ conformance */

const STATUS_KIND = { ok: 'ok', mismatch: 'bad', unused: '', pending: 'warn' };

export async function renderConformance(panel, ctx, panelApi) {
    const box = h('div', {}, h('p', { class: 'muted' }, 'Checking…'));
    const refresh = h('button', { type: 'button', id: 'conf-refresh' }, 'Check again');
    clear(panel, h('div', { class: 'toolbar' }, h('p', { class: 'muted' }, 'What the device did, checked against its template.'), refresh), box);
    async function load() {
        try {
            const r = await get(`${ctx.devPath}/conformance`);
            clear(box,
                h('p', { class: 'summary' }, r.conformant ? badge('Conformant', 'ok') : badge('Not conformant', 'bad'),
                    ` ${r.messagesChecked} messages and ${r.propertyReportsChecked} property reports checked`,
                    r.modelId ? `; the device announced ${r.modelId}` : '', '.'),
                (r.mismatches || []).length
                    ? h('section', { class: 'card' }, h('h2', {}, 'Mismatches'),
                        h('ul', { class: 'mismatches' }, r.mismatches.map((m) => h('li', {}, h('strong', {}, m.kind), `: ${m.message}`, m.count ? ` (${m.count}×)` : ''))))
                    : null,
                table('Capabilities', ['Capability', 'Kind', 'Status', 'Seen', 'Detail'], (r.capabilities || []).map((c) => h('tr', {},
                    h('td', {}, c.component ? `${c.component} / ` : '', h('code', {}, c.name)),
                    h('td', {}, c.kind),
                    h('td', {}, badge(c.status, STATUS_KIND[c.status] || '')),
                    h('td', {}, c.count !== undefined ? String(c.count) : (c.exercised ? 'yes' : 'no')),
                    h('td', {}, c.detail || '')))));
        } catch (err) {
            clear(box, h('p', { class: 'msg error', role: 'alert' }, `The conformance report cannot be made: ${errorText(err)}`));
        }
    }
    refresh.addEventListener('click', load);
    panelApi.on(() => {});
    await load();
}
