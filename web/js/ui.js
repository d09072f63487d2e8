// Small DOM helpers shared by the pages: element builder, alerts, dialogs, copy buttons,
// and how values, times and units are shown.
import { ApiError } from './api.js';

/** h('button', {class: 'x', onclick: fn}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'class') el.className = v;
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k === 'value') el.value = v;
        else if (k === 'checked') el.checked = !!v;
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === undefined || c === null || c === false) continue;
        if (Array.isArray(c)) append(el, c);
        else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

/** Append children, skipping null/undefined/false (Element.append would write "null"). */
export function add(el, ...children) {
    append(el, children);
    return el;
}

export function clear(el, ...children) {
    el.replaceChildren();
    append(el, children);
    return el;
}

/** Words for any failure: the server's message for API errors, else the exception text. */
export function errorText(err) {
    if (err instanceof ApiError) return err.describe();
    return err && err.message ? err.message : String(err);
}

/** Show an error at the top of the page until dismissed. @p what says what failed. */
export function showError(what, err) {
    if (err && err.name === 'AbortError') return;
    const box = document.getElementById('alerts');
    const text = err ? `${what}: ${errorText(err)}` : what;
    const close = h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss this message' }, 'Dismiss');
    const item = h('div', { class: 'alert error' }, h('span', {}, text), close);
    close.addEventListener('click', () => item.remove());
    box.append(item);
    while (box.children.length > 4) box.firstElementChild.remove();
    console.warn(text);
}

/**
 * A short confirmation that goes by itself: a notification over the page's corner (the
 * #toasts region, role=status), so the page does not move. At most four at a time.
 */
export function notify(text) {
    const box = document.getElementById('toasts');
    // the same confirmation again replaces the earlier one instead of stacking
    for (const old of [...box.children]) if (old.textContent === text) old.remove();
    const item = h('div', { class: 'toast' }, text);
    box.append(item);
    while (box.children.length > 4) box.firstElementChild.remove();
    setTimeout(() => item.remove(), 4000);
}

export function clearAlerts() {
    document.getElementById('alerts').replaceChildren();
}

/** An inline message in a form or card: kind 'error' | 'ok' | 'info'. */
export function inline(el, kind, text) {
    el.className = `msg ${kind}`;
    el.textContent = text || '';
    el.hidden = !text;
}

/**
 * Modal dialog. @p build(body, close) fills the body; @p actions: [{label, primary, onclick}].
 * onclick may return a promise; a rejection is shown inside the dialog and keeps it open.
 */
export function dialog(title, build, actions = []) {
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const body = h('div', { class: 'dialog-body' });
    const foot = h('div', { class: 'dialog-actions' });
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const dlg = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), body, msg, foot);
    const close = () => {
        dlg.close();
        dlg.remove();
    };
    dlg.addEventListener('cancel', () => setTimeout(() => dlg.remove(), 0));
    build(body, close);
    for (const a of actions) {
        const b = h('button', { type: 'button', class: a.primary ? 'primary' : '' }, a.label);
        b.addEventListener('click', async () => {
            if (!a.onclick) return close();
            b.disabled = true;
            inline(msg, 'info', '');
            try {
                const keep = await a.onclick(close);
                if (keep !== true) close();
            } catch (err) {
                inline(msg, 'error', errorText(err));
            } finally {
                b.disabled = false;
            }
        });
        foot.append(b);
    }
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector('input, select, textarea, button');
    if (first) first.focus();
    return { dlg, close, msg };
}

/** Confirm with a dialog; resolves true when the operator confirms. */
export function confirmAction(title, text, label) {
    return new Promise((resolve) => {
        let done = false;
        const d = dialog(title, (body) => body.append(h('p', {}, text)), [
            { label: 'Cancel', onclick: () => {} },
            { label, primary: true, onclick: () => { done = true; resolve(true); } },
        ]);
        d.dlg.addEventListener('close', () => { if (!done) resolve(false); });
    });
}

/** A button that copies @p value (a string or a function returning one). */
export function copyButton(value, label) {
    const b = h('button', { type: 'button', class: 'small', 'aria-label': `Copy ${label}` }, 'Copy');
    b.addEventListener('click', async () => {
        const text = typeof value === 'function' ? value() : value;
        try {
            await navigator.clipboard.writeText(text);
            b.textContent = 'Copied';
        } catch {
            // Clipboard refused (plain HTTP on another host, permissions): select the text instead.
            const field = b.parentElement && b.parentElement.querySelector('input, output, code');
            if (field && field.select) field.select();
            b.textContent = 'Select and copy';
        }
        setTimeout(() => (b.textContent = 'Copy'), 2000);
    });
    return b;
}

/** A read-only value with its label and a copy button. */
export function copyField(label, value, { secret = false, id } = {}) {
    const fid = id || `f-${Math.random().toString(36).slice(2)}`;
    const input = h('input', { id: fid, type: secret ? 'password' : 'text', readonly: true, value, spellcheck: 'false' });
    const row = h('div', { class: 'copy-field' }, h('label', { for: fid }, label), h('div', { class: 'copy-row' }, input));
    if (secret) {
        const show = h('button', { type: 'button', class: 'small', 'aria-label': `Show ${label}` }, 'Show');
        show.addEventListener('click', () => {
            const hidden = input.type === 'password';
            input.type = hidden ? 'text' : 'password';
            show.textContent = hidden ? 'Hide' : 'Show';
        });
        row.lastChild.append(show);
    }
    row.lastChild.append(copyButton(() => input.value, label));
    return row;
}

export function fmtTime(t) {
    if (!t) return '—';
    const d = new Date(t);
    if (Number.isNaN(d.getTime())) return String(t);
    return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

const UNITS = {
    degreeCelsius: '°C', degreeFahrenheit: '°F', kelvin: 'K', percent: '%', metre: 'm', meter: 'm',
    second: 's', millisecond: 'ms', minute: 'min', hour: 'h', volt: 'V', ampere: 'A', watt: 'W',
    kilowatt: 'kW', hertz: 'Hz', pascal: 'Pa', kilopascal: 'kPa', bar: 'bar', lux: 'lx',
    kilogram: 'kg', gram: 'g', litre: 'L', kilobyte: 'KB', megabyte: 'MB', byte: 'B',
    kilometrePerHour: 'km/h', metrePerSecond: 'm/s', degreeOfArc: '°', decibel: 'dB',
};

export function unitText(u) {
    if (!u) return '';
    if (typeof u !== 'string') return String(u);
    // DTDL v1 writes units as paths ("Units/Temperature/fahrenheit")
    const last = u.includes('/') ? u.slice(u.lastIndexOf('/') + 1) : u;
    const v1 = { fahrenheit: '°F', celsius: '°C' };
    return UNITS[last] || v1[last] || last;
}

const TYPE_OK = {
    boolean: (v) => typeof v === 'boolean',
    string: (v) => typeof v === 'string',
    integer: (v) => typeof v === 'number',
    long: (v) => typeof v === 'number',
    double: (v) => typeof v === 'number',
    float: (v) => typeof v === 'number',
};

/**
 * Why @p v is not of @p cap's primitive schema, in the server's words (the raw data's errors:
 * "expected boolean, got string "true""), or '' when it is (or the schema is not primitive:
 * the server's own checks say more). A string "true" is not a boolean, as the server judges.
 */
export function valueProblem(v, cap) {
    const ok = cap && typeof cap.schema === 'string' ? TYPE_OK[cap.schema] : null;
    if (!ok || v === undefined || v === null || ok(v)) return '';
    let got = Array.isArray(v) ? 'array' : typeof v;
    if (typeof v === 'string') got = `string ${JSON.stringify(v)}`;
    else if (typeof v === 'number') got = `number ${v}`;
    return `expected ${cap.schema}, got ${got}`;
}

/**
 * A value as the operator should read it (boolean names from the template's customization).
 * A value that is not of its schema's type is shown as the JSON it is ("true" in quotes).
 */
export function fmtValue(v, cap, custom) {
    if (v === undefined) return '—';
    if (v === null) return '(none)';
    if (valueProblem(v, cap)) return JSON.stringify(v);
    if (typeof v === 'boolean') {
        const b = v;
        const c = custom || {};
        const name = b ? c.trueName : c.falseName;
        return name || String(b);
    }
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
}

export function schemaName(s) {
    if (!s) return '';
    if (typeof s === 'string') return s;
    if (s['@type']) return Array.isArray(s['@type']) ? s['@type'].join(' ') : s['@type'];
    return 'complex';
}

/** Key of a capability in customizations: "name" at the root, "component/name" otherwise. */
export function capKey(cap) {
    return cap.component ? `${cap.component}/${cap.name}` : cap.name;
}

export function capLabel(cap, customizations) {
    const c = (customizations || {})[capKey(cap)];
    return (c && c.displayName) || cap.displayName || cap.name;
}

/** A table wrapped so that it scrolls sideways on narrow screens. */
export function table(caption, headers, rows, { className } = {}) {
    return h('div', { class: 'table-wrap' },
        h('table', { class: className },
            caption ? h('caption', {}, caption) : null,
            h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
            h('tbody', {}, rows)));
}

export function badge(text, kind) {
    return h('span', { class: `badge ${kind || ''}` }, text);
}
