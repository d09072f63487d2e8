// Rules and alerts (iotc's own API, docs/API.md "Rules and alerts"): the Rules page lists the
// rules and, for an administrator, creates or edits one (scope, condition with an optional
// window aggregation, a webhook); a rule's page shows its state per device; the Alerts page
// lists the alerts newest first, with acknowledging.
import { del, get, list, post, put, seg } from './api.js';
import { badge, clear, confirmAction, errorText, fmtTime, h, inline, notify, showError, table } from './ui.js';

const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
const OPS = ['>', '>=', '<', '<=', '==', '!='];
const AGGS = ['avg', 'min', 'max', 'count', 'sum'];

// "avg(temp) > 30 over PT5M" (pure).
export function conditionText(c) {
    if (!c) return '';
    const name = c.component ? `${c.component}.${c.telemetry}` : c.telemetry;
    const base = c.aggregation ? `${c.aggregation}(${name})` : name;
    const over = c.aggregation ? ` over ${c.window}${c.windowType === 'sliding' ? ' (sliding)' : ''}` : '';
    return `${base} ${c.operator} ${c.value}${over}`;
}

export function scopeText(s) {
    if (!s) return '';
    return s.deviceGroup ? `group ${s.deviceGroup}` : `template ${s.template}`;
}

// The PUT body from the form's values (pure); throws an Error naming the field when one is bad.
export function ruleBody(v) {
    const value = Number(v.value);
    if (v.value === '' || !Number.isFinite(value)) throw new Error('Value: a number is needed.');
    if (!v.telemetry) throw new Error('Telemetry: a telemetry name is needed.');
    const condition = { telemetry: v.telemetry, operator: v.operator, value };
    if (v.aggregation) {
        if (!/^P/.test(v.window || '')) throw new Error('Window: an ISO 8601 duration such as PT5M is needed with an aggregation.');
        Object.assign(condition, { aggregation: v.aggregation, window: v.window, windowType: v.windowType || 'tumbling' });
    }
    const scope = v.scopeKind === 'template' ? { template: v.scope } : { deviceGroup: v.scope };
    if (!v.scope) throw new Error(v.scopeKind === 'template' ? 'Template: choose one.' : 'Device group: choose one.');
    const actions = [{ type: 'alert' }];
    if (v.webhook) actions.push({ type: 'webhook', url: v.webhook });
    return { displayName: v.displayName || v.id, enabled: v.enabled, scope, condition, actions };
}

function field(id, label, input) {
    return h('div', {}, h('label', { for: id }, label), input);
}

// ---------------------------------------------------------------- rules

export async function renderRules(main, session, id) {
    if (id) return renderRule(main, id);
    const admin = session.role === 'administrator';
    const listBox = h('div', {});
    clear(main, h('h1', {}, 'Rules'),
        h('p', { class: 'muted' }, 'A rule fires once per device when its telemetry condition becomes true (an alert, and a POST to its webhook) and clears when it becomes false.'),
        h('section', { class: 'card', 'aria-labelledby': 'rule-list-h' }, h('h2', { id: 'rule-list-h' }, 'Rules'), listBox));
    let form = null;
    async function refresh() {
        try {
            const rules = await list('/api/rules');
            clear(listBox, rules.length === 0 ? h('p', { class: 'muted' }, 'No rules yet.')
                : table(null, ['Rule', 'Scope', 'Condition', 'Enabled', 'Fired', 'Actions'], rules.map((r) => {
                    const acts = [];
                    if (admin) {
                        const edit = h('button', { type: 'button', class: 'small', 'aria-label': `Edit rule ${r.displayName}` }, 'Edit');
                        edit.addEventListener('click', () => form && form.load(r));
                        const rm = h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete rule ${r.displayName}` }, 'Delete');
                        rm.addEventListener('click', async () => {
                            if (!(await confirmAction('Delete this rule?', `${r.displayName}: its active alerts are closed.`, 'Delete'))) return;
                            try {
                                await del(`/api/rules/${seg(r.id)}`);
                                notify(`${r.displayName} was deleted.`);
                                refresh();
                            } catch (err) {
                                showError(`${r.displayName} was not deleted`, err);
                            }
                        });
                        acts.push(edit, ' ', rm);
                    }
                    return h('tr', {}, h('td', {}, h('a', { href: `#/rules/${seg(r.id)}` }, r.displayName)),
                        h('td', {}, scopeText(r.scope)), h('td', {}, h('code', {}, conditionText(r.condition))),
                        h('td', {}, r.enabled === false ? 'no' : 'yes'),
                        h('td', {}, r.firedDevices ? badge(`${r.firedDevices} fired`, 'bad') : '0'), h('td', {}, acts));
                })));
        } catch (err) {
            clear(listBox, h('p', { class: 'msg error', role: 'alert' }, `Rules cannot be listed: ${errorText(err)}`));
        }
    }
    if (admin) {
        form = await ruleForm(refresh);
        main.append(form.section);
    }
    await refresh();
    const timer = setInterval(refresh, 3000);
    return () => clearInterval(timer);
}

async function ruleForm(refresh) {
    const [groups, templates] = await Promise.all([list('/api/deviceGroups').catch(() => []), list('/api/deviceTemplates').catch(() => [])]);
    const rid = h('input', { id: 'rule-id', type: 'text', required: true, spellcheck: 'false' });
    const name = h('input', { id: 'rule-name', type: 'text' });
    const scopeKind = h('select', { id: 'rule-scope-kind' }, h('option', { value: 'group' }, 'Device group'), h('option', { value: 'template' }, 'Device template'));
    const group = h('select', { id: 'rule-group' }, groups.map((g) => h('option', { value: g.id }, g.displayName)));
    const tmpl = h('select', { id: 'rule-template' }, templates.map((t) => h('option', { value: t['@id'] || t.id }, t.displayName || t['@id'] || t.id)));
    const groupBox = field('rule-group', 'Device group', group);
    const tmplBox = field('rule-template', 'Device template', tmpl);
    tmplBox.hidden = true;
    scopeKind.addEventListener('change', () => {
        groupBox.hidden = scopeKind.value !== 'group';
        tmplBox.hidden = scopeKind.value !== 'template';
    });
    const telemetry = h('input', { id: 'rule-telemetry', type: 'text', required: true, spellcheck: 'false', placeholder: 'temp' });
    const op = h('select', { id: 'rule-operator' }, OPS.map((o) => h('option', { value: o }, o)));
    const value = h('input', { id: 'rule-value', type: 'number', step: 'any', required: true });
    const agg = h('select', { id: 'rule-aggregation' }, h('option', { value: '' }, 'None (each value)'), AGGS.map((a) => h('option', { value: a }, a)));
    const win = h('input', { id: 'rule-window', type: 'text', spellcheck: 'false', placeholder: 'PT5M' });
    const wtype = h('select', { id: 'rule-window-type' }, h('option', { value: 'tumbling' }, 'Tumbling'), h('option', { value: 'sliding' }, 'Sliding'));
    const hook = h('input', { id: 'rule-webhook', type: 'text', inputmode: 'url', spellcheck: 'false', placeholder: 'https://example.com/alerts' });
    const enabled = h('input', { id: 'rule-enabled', type: 'checkbox', checked: true });
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const heading = h('h2', { id: 'rule-new-h' }, 'New rule');
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Save rule');
    const form = h('form', { id: 'rule-form', novalidate: true, 'aria-labelledby': 'rule-new-h' },
        h('div', { class: 'fields' },
            field('rule-id', 'Rule id', rid),
            field('rule-name', 'Rule name', name),
            field('rule-scope-kind', 'Applies to', scopeKind),
            groupBox, tmplBox,
            field('rule-telemetry', 'Telemetry', telemetry),
            field('rule-operator', 'Operator', op),
            field('rule-value', 'Value', value),
            field('rule-aggregation', 'Aggregation', agg),
            field('rule-window', 'Window (ISO 8601)', win),
            field('rule-window-type', 'Window type', wtype),
            field('rule-webhook', 'Webhook URL (optional)', hook)),
        h('p', { class: 'tick' }, enabled, ' ', h('label', { for: 'rule-enabled' }, 'Enabled')),
        msg, submit);
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (!ID_RE.test(rid.value)) {
            inline(msg, 'error', 'Rule id: 1 to 128 letters, digits, ".", "_" or "-".');
            rid.focus();
            return;
        }
        let body;
        try {
            body = ruleBody({
                id: rid.value, displayName: name.value, scopeKind: scopeKind.value,
                scope: scopeKind.value === 'template' ? tmpl.value : group.value,
                telemetry: telemetry.value.trim(), operator: op.value, value: value.value,
                aggregation: agg.value, window: win.value.trim(), windowType: wtype.value,
                webhook: hook.value.trim(), enabled: enabled.checked,
            });
        } catch (err) {
            inline(msg, 'error', err.message);
            return;
        }
        try {
            await put(`/api/rules/${seg(rid.value)}`, body);
            notify(`Rule ${body.displayName} was saved.`);
            inline(msg, 'ok', `Rule ${rid.value} was saved.`);
            refresh();
        } catch (err) {
            inline(msg, 'error', `The rule was not saved: ${errorText(err)}`);
        }
    });
    // Fill the form with a rule to edit it (saved with PUT under the same id).
    function load(r) {
        const c = r.condition || {};
        rid.value = r.id;
        name.value = r.displayName || '';
        scopeKind.value = r.scope && r.scope.template ? 'template' : 'group';
        scopeKind.dispatchEvent(new Event('change'));
        if (r.scope && r.scope.template) tmpl.value = r.scope.template;
        else if (r.scope) group.value = r.scope.deviceGroup;
        telemetry.value = c.telemetry || '';
        op.value = c.operator || '>';
        value.value = c.value ?? '';
        agg.value = c.aggregation || '';
        win.value = c.window || '';
        wtype.value = c.windowType || 'tumbling';
        const wh = (r.actions || []).find((a) => a.type === 'webhook');
        hook.value = wh ? wh.url : '';
        enabled.checked = r.enabled !== false;
        heading.textContent = `Edit rule ${r.displayName}`;
        rid.focus();
    }
    const section = h('section', { class: 'card', 'aria-labelledby': 'rule-new-h' }, heading, form);
    return { section, load };
}

async function renderRule(main, id) {
    const head = h('div', {});
    const devBox = h('div', {});
    clear(main, h('h1', {}, `Rule ${id}`), h('p', {}, h('a', { href: '#/rules' }, 'All rules'), ' · ', h('a', { href: '#/alerts' }, 'Alerts')), head,
        h('section', { class: 'card', 'aria-labelledby': 'rd-h' }, h('h2', { id: 'rd-h' }, 'State per device'), devBox));
    async function refresh() {
        try {
            const [r, devs] = await Promise.all([get(`/api/rules/${seg(id)}`), list(`/api/rules/${seg(id)}/devices`)]);
            const main1 = main.querySelector('h1');
            if (main1) main1.textContent = r.displayName;
            clear(head, h('p', {}, h('code', {}, conditionText(r.condition)), ` · ${scopeText(r.scope)} · ${r.enabled === false ? 'disabled' : 'enabled'}`));
            clear(devBox, devs.length === 0 ? h('p', { class: 'muted' }, 'No device in scope has sent this telemetry yet.')
                : table(null, ['Device', 'State', 'Since', 'Last value'], devs.map((d) => h('tr', {},
                    h('td', {}, h('a', { href: `#/devices/${seg(d.deviceId)}` }, d.deviceId)),
                    h('td', {}, badge(d.state, d.state === 'fired' ? 'bad' : 'ok')),
                    h('td', {}, d.since ? fmtTime(d.since) : '—'), h('td', {}, d.value === null ? '—' : String(d.value))))));
        } catch (err) {
            clear(head, h('p', { class: 'msg error', role: 'alert' }, `The rule cannot be shown: ${errorText(err)}`));
        }
    }
    await refresh();
    const timer = setInterval(refresh, 2000);
    return () => clearInterval(timer);
}

// ---------------------------------------------------------------- alerts

export async function renderAlerts(main) {
    const listBox = h('div', {});
    const state = h('select', { id: 'alert-state' }, h('option', { value: '' }, 'All'), h('option', { value: 'active' }, 'Active'), h('option', { value: 'cleared' }, 'Cleared'));
    clear(main, h('h1', {}, 'Alerts'),
        h('section', { class: 'card', 'aria-labelledby': 'alert-list-h' }, h('h2', { id: 'alert-list-h' }, 'Newest first'),
            h('div', { class: 'fields' }, field('alert-state', 'Show', state)), listBox));
    async function refresh() {
        try {
            const q = state.value ? `?state=${state.value}&$top=100` : '?$top=100';
            const page = await get(`/api/alerts${q}`);
            const alerts = (page && page.value) || [];
            clear(listBox, alerts.length === 0 ? h('p', { class: 'muted' }, 'No alerts.')
                : table(null, ['Fired', 'Rule', 'Device', 'Value', 'State', 'Acknowledged'], alerts.map((a) => {
                    let ack = 'yes';
                    if (!a.acknowledged) {
                        ack = h('button', { type: 'button', class: 'small', 'aria-label': `Acknowledge alert ${a.id}` }, 'Acknowledge');
                        ack.addEventListener('click', async () => {
                            try {
                                await post(`/api/alerts/${seg(a.id)}/acknowledge`);
                                notify(`Alert ${a.id} was acknowledged.`);
                                refresh();
                            } catch (err) {
                                showError(`Alert ${a.id} was not acknowledged`, err);
                            }
                        });
                    }
                    return h('tr', {}, h('td', {}, fmtTime(a.firedAt)),
                        h('td', {}, h('a', { href: `#/rules/${seg(a.ruleId)}` }, a.ruleDisplayName || a.ruleId)),
                        h('td', {}, h('a', { href: `#/devices/${seg(a.deviceId)}` }, a.deviceId)),
                        h('td', {}, String(a.value)),
                        h('td', {}, badge(a.state, a.state === 'active' ? 'bad' : 'ok')), h('td', {}, ack));
                }), { className: 'alerts-table' }));
            if (page && page.nextLink) listBox.append(h('p', { class: 'muted' }, 'Showing the newest 100.'));
        } catch (err) {
            clear(listBox, h('p', { class: 'msg error', role: 'alert' }, `Alerts cannot be listed: ${errorText(err)}`));
        }
    }
    state.addEventListener('change', refresh);
    await refresh();
    const timer = setInterval(refresh, 3000);
    return () => clearInterval(timer);
}
