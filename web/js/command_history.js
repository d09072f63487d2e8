// Commands of one device: how a command ended in words (describeCommand, shared with the
// command cards), and the device-wide history (every command, newest first, a page at a time)
// whose rows open onto the request and the response as indented JSON.
import { list } from './api.js';
import { clear, errorText, fmtTime, h } from './ui.js';

/** How a command ended, in words; no "null" for a command without a response. */
export function describeCommand(c) {
    // null and absent both mean "no response": nothing is shown for them
    const resp = c.response !== undefined && c.response !== null ? JSON.stringify(c.response) : '';
    switch (c.status) {
    case 'completed':
        return c.completion !== undefined && c.completion !== null
            ? `Completed: ${typeof c.completion === 'string' ? c.completion : JSON.stringify(c.completion)}`
            : `Completed (${c.responseCode})${resp ? `: ${resp}` : ''}`;
    case 'pending':
        return `Accepted (${c.responseCode}): waiting for the device to report completion…${resp ? ` ${resp}` : ''}`;
    case 'sent':
        return 'Sent: waiting for the device to answer…';
    case 'queued':
        return 'Queued: the device gets it when it connects.';
    case 'failed':
        return `Failed${c.responseCode ? ` (${c.responseCode})` : ''}: ${c.error || resp || 'no answer'}`;
    default:
        return `${c.status}${resp ? `: ${resp}` : ''}`;
    }
}

const STATUS_WORD = { completed: 'Completed', failed: 'Failed', pending: 'Accepted, pending', sent: 'Sent', queued: 'Queued' };
const PAGE = 20;

/**
 * The request as the operator reads it: with the name the template gives the request
 * ("Interval: 2"), or the bare JSON when the command is not in the template.
 */
export function requestText(c, caps = []) {
    if (c.request === undefined || c.request === null) return '';
    const name = requestName(c, caps);
    const json = JSON.stringify(c.request);
    return name ? `${name}: ${json}` : json;
}

/** The template's name of the command's request, or ''. */
function requestName(c, caps) {
    const cap = caps.find((x) => x.kind === 'command' && x.name === c.name && (x.component || '') === (c.component || ''));
    const r = cap && cap.request;
    return r ? r.displayName || r.name : '';
}

/** A value as indented JSON for the details panel. */
export function prettyJson(v) {
    return JSON.stringify(v, null, 2);
}

function commandName(c) {
    return c.component ? `${c.component}*${c.name}` : c.name;
}

function details(c, caps) {
    const block = (label, v) => h('div', { class: 'cmd-detail' }, h('h4', {}, label), h('pre', { class: 'json', tabindex: '0' }, prettyJson(v)));
    return h('div', { class: 'cmd-details' },
        h('p', {}, h('strong', {}, commandName(c)), ` · id ${c.id}`, c.responseCode ? ` · response code ${c.responseCode}` : '',
            c.completedTime ? ` · completed ${fmtTime(c.completedTime)}` : ''),
        c.request !== undefined && c.request !== null ? block(requestName(c, caps) ? `Request: ${requestName(c, caps)}` : 'Request', c.request) : h('p', { class: 'muted' }, 'No request.'),
        c.response !== undefined && c.response !== null ? block('Response', c.response) : h('p', { class: 'muted' }, 'No response payload.'),
        c.completion !== undefined && c.completion !== null ? block('Completion (reported by the device)', c.completion) : null,
        c.error ? h('p', { class: 'bad-text' }, c.error) : null);
}

/**
 * The device-wide history in @p box (@p caps: the template's capabilities, for request names):
 * GET {devPath}/commands (every command of the device,
 * read page by page through nextLink), newest first, PAGE rows per page. Returns a refresh
 * function (called when a command event arrives).
 */
export function commandHistory(box, devPath, caps = []) {
    let all = [];
    let page = 1;
    const open = new Set();
    const body = h('div', {});
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of the command history' });
    clear(box, h('h2', { id: 'all-commands' }, 'Command history'),
        h('p', { class: 'muted' }, 'Every command run on this device, newest first. Open a row to read its request and response.'),
        body, pager);

    function draw() {
        // Live updates redraw the table: the row button the keyboard was on keeps the focus.
        const had = document.activeElement;
        const focusCmd = had && body.contains(had) && had.dataset ? had.dataset.cmd : undefined;
        const pages = Math.max(1, Math.ceil(all.length / PAGE));
        page = Math.min(page, pages);
        if (all.length === 0) {
            clear(body, h('p', { class: 'muted' }, 'No command has been run on this device.'));
            pager.hidden = true;
            return;
        }
        const rows = [];
        for (const c of all.slice((page - 1) * PAGE, page * PAGE)) {
            const isOpen = open.has(c.id);
            const toggle = h('button', {
                type: 'button', class: 'small', 'aria-expanded': isOpen ? 'true' : 'false',
                'aria-label': `${isOpen ? 'Hide' : 'Show'} details of ${commandName(c)} at ${fmtTime(c.time)}`, dataset: { cmd: c.id },
            }, isOpen ? 'Hide' : 'Details');
            toggle.addEventListener('click', () => {
                if (open.has(c.id)) open.delete(c.id);
                else open.add(c.id);
                draw();
                const again = body.querySelector(`button[data-cmd="${CSS.escape(c.id)}"]`);
                if (again) again.focus();
            });
            const req = requestText(c, caps);
            rows.push(h('tr', { dataset: { command: c.id, status: c.status } },
                h('td', { class: 'c-time' }, h('time', { datetime: c.time }, fmtTime(c.time))),
                h('td', {}, h('code', {}, commandName(c))),
                h('td', { class: 'c-req' }, req ? h('code', { class: 'clip', title: req }, req) : h('span', { class: 'muted' }, '—')),
                h('td', {}, h('span', { class: `st-${c.status}` }, STATUS_WORD[c.status] || c.status)),
                h('td', { class: 'c-outcome' }, describeCommand(c)),
                h('td', {}, toggle)));
            if (isOpen) rows.push(h('tr', { class: 'cmd-open' }, h('td', { colspan: 6 }, details(c, caps))));
        }
        clear(body, h('div', { class: 'table-wrap' }, h('table', { class: 'cmdhist' },
            h('caption', { class: 'sr-only' }, `Command history, page ${page} of ${pages}`),
            h('thead', {}, h('tr', {}, ['Time', 'Command', 'Request', 'Status', 'Outcome', 'Details'].map((x, i) =>
                h('th', { scope: 'col', class: ['c-time', null, 'c-req', null, 'c-outcome', null][i] }, x)))),
            h('tbody', {}, rows))));
        const prev = h('button', { type: 'button', id: 'hist-prev', disabled: page <= 1 }, 'Newer');
        const next = h('button', { type: 'button', id: 'hist-next', disabled: page >= pages }, 'Older');
        prev.addEventListener('click', () => { page--; draw(); pager.querySelector(page <= 1 ? '#hist-next' : '#hist-prev').focus(); });
        next.addEventListener('click', () => { page++; draw(); pager.querySelector(page >= pages ? '#hist-prev' : '#hist-next').focus(); });
        clear(pager, prev, h('span', { id: 'hist-info' }, `Page ${page} of ${pages} · ${all.length} commands`), next);
        pager.hidden = pages <= 1;
        if (focusCmd !== undefined) {
            const again = body.querySelector(`button[data-cmd="${CSS.escape(focusCmd)}"]`);
            if (again) again.focus();
        }
    }

    async function refresh() {
        try {
            // oldest first and paged by the server: read every page, show the newest first
            all = (await list(`${devPath}/commands?$top=1000`, { maxItems: 100000 })).reverse();
            draw();
        } catch (err) {
            clear(body, h('p', { class: 'msg error' }, `The command history cannot be read: ${errorText(err)}`));
        }
    }
    return refresh;
}
