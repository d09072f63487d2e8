// Fleet pages: device groups (list, create from a template + provisioned condition or a raw
// filter, a group's devices) and jobs (list with status and progress, create a property or
// command job on a group, each device's status, stop / resume). docs/API.md "Device groups",
// "Jobs".
import { del, get, list, post, put, seg } from './api.js';
import { badge, clear, confirmAction, errorText, h, inline, notify, showError, table } from './ui.js';

const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

// The filter IoT Central documents, from the form's two conditions (pure).
export function groupFilter(template, provisioned) {
    const conds = [];
    if (template) conds.push(`$template = "${template.replace(/"/g, '""')}"`);
    if (provisioned === 'true' || provisioned === 'false') conds.push(`$provisioned = ${provisioned}`);
    return `SELECT * FROM devices${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`;
}

function field(id, label, input, hint) {
    return h('div', {}, h('label', { for: id }, label), input, hint ? h('p', { class: 'muted', id: `${id}-hint` }, hint) : null);
}

function failMsg(msg, what, err) {
    inline(msg, 'error', `${what}: ${errorText(err)}`);
}

// ---------------------------------------------------------------- device groups

export async function renderGroups(main, session, id) {
    if (id) return renderGroup(main, id);
    const admin = session.role === 'administrator';
    const listBox = h('div', {});
    clear(main, h('h1', {}, 'Device groups'), h('section', { class: 'card', 'aria-labelledby': 'dg-list-h' }, h('h2', { id: 'dg-list-h' }, 'Groups'), listBox));
    async function refresh() {
        try {
            const groups = await list('/api/deviceGroups');
            if (groups.length === 0) {
                clear(listBox, h('p', { class: 'muted' }, 'No device groups yet.'));
                return;
            }
            clear(listBox, table(null, ['Name', 'Filter', 'Actions'], groups.map((g) => {
                const rm = admin ? h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${g.displayName}` }, 'Delete') : null;
                if (rm) {
                    rm.addEventListener('click', async () => {
                        if (!(await confirmAction('Delete this device group?', `${g.displayName}: its devices stay.`, 'Delete'))) return;
                        try {
                            await del(`/api/deviceGroups/${seg(g.id)}`);
                            notify(`${g.displayName} was deleted.`);
                            refresh();
                        } catch (err) {
                            showError(`${g.displayName} was not deleted`, err);
                        }
                    });
                }
                return h('tr', {}, h('td', {}, h('a', { href: `#/groups/${seg(g.id)}` }, g.displayName)),
                    h('td', {}, h('code', {}, g.filter)), h('td', {}, rm));
            })));
        } catch (err) {
            clear(listBox, h('p', { class: 'msg error', role: 'alert' }, `Device groups cannot be listed: ${errorText(err)}`));
        }
    }
    if (admin) main.append(await groupForm(refresh));
    await refresh();
}

async function groupForm(refresh) {
    let templates = [];
    try {
        templates = await list('/api/deviceTemplates');
    } catch {
        templates = [];
    }
    const gid = h('input', { id: 'dg-id', type: 'text', required: true, spellcheck: 'false' });
    const name = h('input', { id: 'dg-name', type: 'text', required: true });
    const tmpl = h('select', { id: 'dg-template' }, h('option', { value: '' }, 'Any template'),
        templates.map((t) => h('option', { value: t['@id'] || t.id }, t.displayName || t['@id'] || t.id)));
    const prov = h('select', { id: 'dg-provisioned' }, h('option', { value: '' }, 'Either'),
        h('option', { value: 'true' }, 'Provisioned'), h('option', { value: 'false' }, 'Not provisioned'));
    const raw = h('textarea', { id: 'dg-filter', rows: 2, spellcheck: 'false', placeholder: 'SELECT * FROM devices WHERE $template = "dtmi:..." AND $provisioned = true' });
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const form = h('form', { id: 'dg-form', novalidate: true },
        h('div', { class: 'fields' },
            field('dg-id', 'Group id', gid),
            field('dg-name', 'Display name', name),
            field('dg-template', 'Template', tmpl),
            field('dg-provisioned', 'Provisioned', prov)),
        field('dg-filter', 'Filter (instead of the two conditions)', raw, 'IoT Central\'s form; unsupported parts are refused by name.'),
        msg, h('button', { type: 'submit', class: 'primary' }, 'Create group'));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (!ID_RE.test(gid.value)) {
            inline(msg, 'error', 'Group id: 1 to 128 letters, digits, ".", "_" or "-".');
            gid.focus();
            return;
        }
        const filter = raw.value.trim() || groupFilter(tmpl.value, prov.value);
        try {
            await put(`/api/deviceGroups/${seg(gid.value)}`, { displayName: name.value || gid.value, filter });
            notify(`${name.value || gid.value} was created.`);
            inline(msg, 'ok', `Group ${gid.value} was created.`);
            gid.value = '';
            name.value = '';
            raw.value = '';
            refresh();
        } catch (err) {
            failMsg(msg, 'The group was not created', err);
        }
    });
    return h('section', { class: 'card', 'aria-labelledby': 'dg-new-h' }, h('h2', { id: 'dg-new-h' }, 'New device group'), form);
}

async function renderGroup(main, id) {
    const g = await get(`/api/deviceGroups/${seg(id)}`);
    const devs = await list(`/api/deviceGroups/${seg(id)}/devices`);
    clear(main, h('h1', {}, g.displayName),
        h('p', {}, h('a', { href: '#/groups' }, 'All device groups')),
        h('section', { class: 'card', 'aria-labelledby': 'dg-f-h' }, h('h2', { id: 'dg-f-h' }, 'Filter'), h('p', {}, h('code', {}, g.filter))),
        h('section', { class: 'card', 'aria-labelledby': 'dg-d-h' }, h('h2', { id: 'dg-d-h' }, `Devices (${devs.length})`),
            devs.length === 0 ? h('p', { class: 'muted' }, 'No device matches the filter now.')
                : table(null, ['Device', 'Template', 'Provisioned'], devs.map((d) => h('tr', {},
                    h('td', {}, h('a', { href: `#/devices/${seg(d.id)}` }, d.displayName || d.id)),
                    h('td', {}, d.template || '—'), h('td', {}, d.provisioned ? 'yes' : 'no'))))));
}

// ---------------------------------------------------------------- jobs

// "7 of 20 done" from a job's progress (pure).
export function progressText(p) {
    if (!p) return '';
    const done = (p.completed || 0) + (p.failed || 0) + (p.cancelled || 0);
    return `${done} of ${p.total || 0} done${p.failed ? `, ${p.failed} failed` : ''}`;
}

const STATUS_KIND = { complete: 'ok', running: 'info', stopped: 'warn', failed: 'error', cancelled: 'error' };

export async function renderJobs(main, session, id) {
    if (id) return renderJob(main, session, id);
    const admin = session.role === 'administrator';
    const listBox = h('div', {});
    clear(main, h('h1', {}, 'Jobs'), h('section', { class: 'card', 'aria-labelledby': 'job-list-h' }, h('h2', { id: 'job-list-h' }, 'Jobs'), listBox));
    async function refresh() {
        try {
            const jobs = await list('/api/jobs');
            clear(listBox, jobs.length === 0 ? h('p', { class: 'muted' }, 'No jobs yet.')
                : table(null, ['Job', 'Group', 'Status', 'Progress'], jobs.map((j) => h('tr', {},
                    h('td', {}, h('a', { href: `#/jobs/${seg(j.id)}` }, j.displayName || j.id)),
                    h('td', {}, j.group), h('td', {}, badge(j.status, STATUS_KIND[j.status])),
                    h('td', {}, progressText(j.progress))))));
        } catch (err) {
            clear(listBox, h('p', { class: 'msg error', role: 'alert' }, `Jobs cannot be listed: ${errorText(err)}`));
        }
    }
    if (admin) main.append(await jobForm(refresh));
    await refresh();
    const timer = setInterval(refresh, 2000);
    return () => clearInterval(timer);
}

async function jobForm(refresh) {
    const [groups, templates] = await Promise.all([list('/api/deviceGroups').catch(() => []), list('/api/deviceTemplates').catch(() => [])]);
    const jid = h('input', { id: 'job-id', type: 'text', required: true, spellcheck: 'false' });
    const group = h('select', { id: 'job-group' }, groups.map((g) => h('option', { value: g.id }, g.displayName)));
    const tmpl = h('select', { id: 'job-template' }, templates.map((t) => h('option', { value: t['@id'] || t.id }, t.displayName || t['@id'] || t.id)));
    const kind = h('select', { id: 'job-kind' }, h('option', { value: 'property' }, 'Write a property'), h('option', { value: 'command' }, 'Run a command'));
    const path = h('input', { id: 'job-path', type: 'text', required: true, spellcheck: 'false' });
    const value = h('input', { id: 'job-value', type: 'text', spellcheck: 'false' });
    const batch = h('input', { id: 'job-batch', type: 'number', min: 1, value: 5 });
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const form = h('form', { id: 'job-form', novalidate: true },
        h('div', { class: 'fields' },
            field('job-id', 'Job id', jid),
            field('job-group', 'Device group', group),
            field('job-template', 'Template', tmpl),
            field('job-kind', 'Kind', kind),
            field('job-path', 'Property or command name', path),
            field('job-value', 'Value or request (JSON, or text)', value),
            field('job-batch', 'Devices at once', batch)),
        msg, h('button', { type: 'submit', class: 'primary' }, 'Start job'));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (!ID_RE.test(jid.value)) {
            inline(msg, 'error', 'Job id: 1 to 128 letters, digits, ".", "_" or "-".');
            jid.focus();
            return;
        }
        if (!group.value || !path.value) {
            inline(msg, 'error', 'A device group and a name are needed.');
            return;
        }
        let v = value.value;
        try {
            v = JSON.parse(v);
        } catch {
            /* text */
        }
        const item = { type: kind.value, target: tmpl.value, path: path.value };
        if (value.value !== '') item.value = v;
        try {
            await put(`/api/jobs/${seg(jid.value)}`, {
                displayName: jid.value, group: group.value, batch: { type: 'number', value: Number(batch.value) || 1 }, data: [item],
            });
            notify(`Job ${jid.value} started.`);
            inline(msg, 'ok', `Job ${jid.value} started.`);
            refresh();
        } catch (err) {
            failMsg(msg, 'The job was not started', err);
        }
    });
    return h('section', { class: 'card', 'aria-labelledby': 'job-new-h' }, h('h2', { id: 'job-new-h' }, 'New job'), form);
}

async function renderJob(main, session, id) {
    const head = h('div', {});
    const devBox = h('div', {});
    clear(main, h('h1', {}, `Job ${id}`), h('p', {}, h('a', { href: '#/jobs' }, 'All jobs')), head,
        h('section', { class: 'card', 'aria-labelledby': 'jd-h' }, h('h2', { id: 'jd-h' }, 'Devices'), devBox));
    async function refresh() {
        try {
            const [j, devs] = await Promise.all([get(`/api/jobs/${seg(id)}`), list(`/api/jobs/${seg(id)}/devices`)]);
            const actions = [];
            if (session.role === 'administrator' && (j.status === 'running' || j.status === 'stopped')) {
                const verb = j.status === 'running' ? 'stop' : 'resume';
                const b = h('button', { type: 'button', id: `job-${verb}` }, verb === 'stop' ? 'Stop' : 'Resume');
                b.addEventListener('click', async () => {
                    try {
                        await post(`/api/jobs/${seg(id)}/${verb}`);
                        notify(`Job ${id} ${verb === 'stop' ? 'stopped' : 'resumed'}.`);
                        refresh();
                    } catch (err) {
                        showError(`Job ${id} was not ${verb === 'stop' ? 'stopped' : 'resumed'}`, err);
                    }
                });
                actions.push(b);
            }
            clear(head, h('p', {}, 'Status: ', badge(j.status, STATUS_KIND[j.status]), ` · ${progressText(j.progress)} · group ${j.group}`), actions);
            clear(devBox, table(null, ['Device', 'Status', 'Error'], devs.map((d) => h('tr', {},
                h('td', {}, h('a', { href: `#/devices/${seg(d.id)}` }, d.id)), h('td', {}, d.status), h('td', {}, d.error || '')))));
        } catch (err) {
            clear(head, h('p', { class: 'msg error', role: 'alert' }, `The job cannot be shown: ${errorText(err)}`));
        }
    }
    await refresh();
    const timer = setInterval(refresh, 2000);
    return () => clearInterval(timer);
}
