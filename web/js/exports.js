// Data export (docs/EXPORT.md): the exports with their status, lag (messages and seconds),
// delivered and failed counts and last error; the destinations; forms to create a destination
// (webhook URL and authorization header, or Kafka bootstrap servers and topic) and an export
// (source, optional filter, enrichments, destination and its jq transform); enable/disable and
// delete. Everything
// goes through /api/dataExport/ at the api-version that has it.
import { del, list, patch, put, seg } from './api.js';
import { badge, clear, confirmAction, errorText, fmtTime, h, inline, notify, showError, table } from './ui.js';

const XV = 'api-version=2022-10-31-preview';
const SOURCES = [
    ['telemetry', 'Telemetry'],
    ['properties', 'Property changes'],
    ['deviceConnectivity', 'Device connectivity'],
    ['deviceLifecycle', 'Device lifecycle'],
    ['deviceTemplateLifecycle', 'Device template lifecycle'],
];
const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

const url = (kind, id) => `/api/dataExport/${kind}${id ? `/${seg(id)}` : ''}?${XV}`;
const statusKind = (s) => ({ healthy: 'ok', error: 'bad', warning: 'warn', starting: 'warn' }[s] || '');

/** "name: value" lines -> enrichments: a value starting with "$" is a path ($templateDisplayName,
 * $displayName, $id, $templateId), anything else a static string. Throws with the bad line. */
export function parseEnrichments(text) {
    const out = {};
    for (const [i, raw] of text.split('\n').entries()) {
        const line = raw.trim();
        if (!line) continue;
        const m = /^([^:]+):\s*(.*)$/.exec(line);
        if (!m || !m[1].trim() || !m[2]) throw new Error(`Enrichments, line ${i + 1}: write "name: value"`);
        const name = m[1].trim();
        out[name] = m[2].startsWith('$') ? { path: m[2] } : { value: m[2] };
    }
    return out;
}

function field(id, label, input, help) {
    return h('div', {}, h('label', { for: id }, label), input, help ? h('p', { class: 'muted', id: `${id}-help` }, help) : null);
}

function lagText(st) {
    if (!st) return '–';
    return `${st.lagMessages ?? 0} messages, ${st.lagSeconds ?? 0} s`;
}

export async function render(main) {
    const exportsBox = h('div', {});
    const destsBox = h('div', {});
    const destSelect = h('select', { id: 'export-destination', required: true });
    clear(main, h('h1', {}, 'Data export'),
        h('p', { class: 'muted' }, 'Exports send telemetry, property changes, connectivity and lifecycle events to a webhook or a Kafka topic, at least once and in order per device, in IoT Central\'s export format.'),
        h('section', { class: 'card', 'aria-labelledby': 'exports-h' }, h('h2', { id: 'exports-h' }, 'Exports'), exportsBox),
        h('section', { class: 'card', 'aria-labelledby': 'dests-h' }, h('h2', { id: 'dests-h' }, 'Destinations'), destsBox));

    // ---- new destination
    const dId = h('input', { id: 'dest-id', type: 'text', required: true, spellcheck: 'false' });
    const dName = h('input', { id: 'dest-name', type: 'text', required: true });
    const dType = h('select', { id: 'dest-type' },
        h('option', { value: 'webhook@v1' }, 'Webhook'), h('option', { value: 'kafka@v1' }, 'Kafka'));
    const dUrl = h('input', { id: 'dest-url', type: 'text', inputmode: 'url', spellcheck: 'false', placeholder: 'https://example.net/hook' });
    const dAuth = h('input', { id: 'dest-auth', type: 'password', autocomplete: 'off', spellcheck: 'false' });
    const dBoot = h('input', { id: 'dest-bootstrap', type: 'text', spellcheck: 'false', placeholder: 'host:9092,host2:9092' });
    const dTopic = h('input', { id: 'dest-topic', type: 'text', spellcheck: 'false' });
    const webhookFields = h('div', { class: 'fields' },
        field('dest-url', 'Webhook URL', dUrl),
        field('dest-auth', 'Authorization header value', dAuth, 'Sent as the Authorization header of every request, e.g. "Bearer …".'));
    const kafkaFields = h('div', { class: 'fields', hidden: true },
        field('dest-bootstrap', 'Bootstrap servers', dBoot),
        field('dest-topic', 'Topic', dTopic));
    const dMsg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const dForm = h('form', { id: 'dest-form', novalidate: true, 'aria-labelledby': 'dest-form-h' },
        h('h3', { id: 'dest-form-h' }, 'New destination'),
        h('div', { class: 'fields' }, field('dest-id', 'Destination id', dId), field('dest-name', 'Destination name', dName), field('dest-type', 'Type', dType)),
        webhookFields, kafkaFields, dMsg,
        h('button', { type: 'submit', class: 'primary' }, 'Create destination'));
    dType.addEventListener('change', () => {
        webhookFields.hidden = dType.value !== 'webhook@v1';
        kafkaFields.hidden = dType.value === 'webhook@v1';
    });
    destsBox.after(dForm);

    // ---- new export
    const xId = h('input', { id: 'export-id', type: 'text', required: true, spellcheck: 'false' });
    const xName = h('input', { id: 'export-name', type: 'text', required: true });
    const xSource = h('select', { id: 'export-source' }, SOURCES.map(([v, t]) => h('option', { value: v }, t)));
    const xFilter = h('input', { id: 'export-filter', type: 'text', spellcheck: 'false', placeholder: 'SELECT * FROM dtmi:… WHERE temperature > 20' });
    const xEnrich = h('textarea', { id: 'export-enrichments', rows: 3, spellcheck: 'false', placeholder: 'site: Berlin\nmodel: $templateDisplayName' });
    const xTransform = h('textarea', { id: 'export-transform', rows: 3, spellcheck: 'false', placeholder: 'import "iotc" as iotc; {deviceId: .device.id, temperature: (.telemetry | iotc::find(.name == "temperature").value)}' });
    const xMsg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const xForm = h('form', { id: 'export-form', novalidate: true, 'aria-labelledby': 'export-form-h' },
        h('h3', { id: 'export-form-h' }, 'New export'),
        h('div', { class: 'fields' },
            field('export-id', 'Export id', xId), field('export-name', 'Export name', xName),
            field('export-source', 'Source', xSource), field('export-destination', 'Destination', destSelect)),
        h('div', { class: 'fields' },
            field('export-filter', 'Filter (optional)', xFilter, 'IoT Central\'s query form: SELECT * FROM <template id> [WHERE <field> <op> <value> [AND …]].'),
            field('export-enrichments', 'Enrichments (optional)', xEnrich, 'One "name: value" a line; a value starting with $ is a path: $templateDisplayName, $displayName, $id, $templateId.')),
        h('div', { class: 'fields' },
            field('export-transform', 'Transform (optional)', xTransform, 'A jq program run on each message for this destination, as in IoT Central: each output is one message.')),
        xMsg,
        h('button', { type: 'submit', class: 'primary' }, 'Create export'));
    exportsBox.after(xForm);

    async function refresh() {
        let dests = [];
        let exps = [];
        try {
            [dests, exps] = await Promise.all([list(url('destinations')), list(url('exports'))]);
        } catch (err) {
            clear(exportsBox, h('p', { class: 'msg error', role: 'alert' }, `Data export cannot be listed: ${errorText(err)}`));
            return;
        }
        const chosen = destSelect.value;
        clear(destSelect, dests.map((d) => h('option', { value: d.id }, d.displayName || d.id)));
        if (dests.some((d) => d.id === chosen)) destSelect.value = chosen;
        if (dests.length === 0) clear(destsBox, h('p', { class: 'muted' }, 'No destinations yet: create one below, then an export that sends to it.'));
        else {
            clear(destsBox, table(null, ['Destination', 'Type', 'Target', 'Status', 'Actions'], dests.map((d) => {
                const rm = h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete destination ${d.displayName || d.id}` }, 'Delete');
                rm.addEventListener('click', async () => {
                    if (!(await confirmAction('Delete this destination?', `${d.displayName || d.id} is removed; an export still sending to it must be changed first.`, 'Delete'))) return;
                    try {
                        await del(url('destinations', d.id));
                        notify(`Destination ${d.id} was deleted.`);
                        refresh();
                    } catch (err) {
                        showError(`Destination ${d.id} was not deleted`, err);
                    }
                });
                const target = d.type === 'webhook@v1' ? d.url : `${d.bootstrapServers || ''} ${d.topic || ''}`.trim();
                return h('tr', {}, h('td', {}, d.displayName || d.id, ' ', h('code', {}, d.id)), h('td', {}, d.type),
                    h('td', { class: 'wrap' }, h('code', {}, target || '–')), h('td', {}, badge(d.status || '–', statusKind(d.status))), h('td', {}, rm));
            })));
        }
        if (exps.length === 0) {
            clear(exportsBox, h('p', { class: 'muted' }, 'No exports yet.'));
            return;
        }
        clear(exportsBox, table(null, ['Export', 'Source', 'Status', 'Lag', 'Delivered', 'Failed', 'Last error', 'Actions'], exps.map((x) => {
            const name = x.displayName || x.id;
            const toggle = h('button', { type: 'button', class: 'small', 'aria-label': `${x.enabled === false ? 'Enable' : 'Disable'} export ${name}` },
                x.enabled === false ? 'Enable' : 'Disable');
            toggle.addEventListener('click', async () => {
                toggle.disabled = true;
                try {
                    await patch(url('exports', x.id), { enabled: x.enabled === false });
                    notify(`Export ${x.id} is ${x.enabled === false ? 'enabled' : 'disabled'}.`);
                    refresh();
                } catch (err) {
                    showError(`Export ${x.id} was not changed`, err);
                    toggle.disabled = false;
                }
            });
            const rm = h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete export ${name}` }, 'Delete');
            rm.addEventListener('click', async () => {
                if (!(await confirmAction('Delete this export?', `${name} stops and its cursor is forgotten.`, 'Delete'))) return;
                try {
                    await del(url('exports', x.id));
                    notify(`Export ${x.id} was deleted.`);
                    refresh();
                } catch (err) {
                    showError(`Export ${x.id} was not deleted`, err);
                }
            });
            const st = x.stats || {};
            const last = (x.errors || [])[0];
            return h('tr', {}, h('td', {}, name, ' ', h('code', {}, x.id)),
                h('td', {}, (SOURCES.find(([v]) => v === x.source) || [0, x.source])[1]),
                h('td', {}, badge(x.status || '–', statusKind(x.status))),
                h('td', {}, lagText(st)), h('td', {}, String(st.delivered ?? 0)), h('td', {}, String(st.failed ?? 0)),
                h('td', { class: 'wrap' }, last ? `${fmtTime(last.time)}: ${last.message}` : '–'),
                h('td', {}, toggle, ' ', rm));
        })));
    }

    dForm.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (!ID_RE.test(dId.value)) return inline(dMsg, 'error', 'Destination id: 1 to 128 letters, digits, ".", "_" or "-".');
        const body = { displayName: dName.value || dId.value, type: dType.value };
        if (dType.value === 'webhook@v1') {
            body.url = dUrl.value.trim();
            body.authorization = { type: 'header', value: dAuth.value };
        } else {
            body.bootstrapServers = dBoot.value.trim();
            body.topic = dTopic.value.trim();
            body.authorization = { type: 'none' };
        }
        try {
            await put(url('destinations', dId.value), body);
            inline(dMsg, 'ok', `Destination ${dId.value} was created.`);
            dForm.reset();
            webhookFields.hidden = false;
            kafkaFields.hidden = true;
            refresh();
        } catch (err) {
            inline(dMsg, 'error', `The destination was not created: ${errorText(err)}`);
        }
    });

    xForm.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (!ID_RE.test(xId.value)) return inline(xMsg, 'error', 'Export id: 1 to 128 letters, digits, ".", "_" or "-".');
        if (!destSelect.value) return inline(xMsg, 'error', 'Destination: create a destination first.');
        const body = { displayName: xName.value || xId.value, source: xSource.value, enabled: true, destinations: [{ id: destSelect.value }] };
        if (xFilter.value.trim()) body.filter = xFilter.value.trim();
        if (xTransform.value.trim()) body.destinations[0].transform = xTransform.value.trim();
        try {
            const en = parseEnrichments(xEnrich.value);
            if (Object.keys(en).length) body.enrichments = en;
        } catch (err) {
            return inline(xMsg, 'error', err.message);
        }
        try {
            await put(url('exports', xId.value), body);
            inline(xMsg, 'ok', `Export ${xId.value} was created.`);
            xForm.reset();
            refresh();
        } catch (err) {
            inline(xMsg, 'error', `The export was not created: ${errorText(err)}`);
        }
    });

    await refresh();
    const timer = setInterval(() => {
        if (!document.hidden) refresh();
    }, 5000);
    return () => clearInterval(timer);
}
