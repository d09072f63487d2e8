// Device templates: import a model, see and customise its capabilities, generate the default
// views, build form views by ticking properties, publish (the tutorial's steps 1.1 to 1.3).
import { del, get, list, patch, post, put, seg } from './api.js';
import {
    badge, capKey, clear, confirmAction, errorText, fmtTime, h, inline, notify, schemaName, showError,
    table, unitText,
} from './ui.js';

const tplPath = (id) => `/api/deviceTemplates/${seg(id)}`;

/** Dashboard tile types (docs/API.md, Views) and the kind of capability each shows. */
const TILE_TYPES = new Map([['lineChart', 'Line chart'], ['lastKnownValue', 'Last known value'], ['property', 'Property'], ['command', 'Command']]);
const TILE_KIND = { lineChart: 'telemetry', lastKnownValue: 'telemetry', property: 'property', command: 'command' };

function modelId(model) {
    const m = Array.isArray(model) ? model[0] : model;
    if (!m || typeof m !== 'object') return '';
    if (m.capabilityModel && m['@id']) return m['@id']; // an IoT Central DeviceTemplate export
    return m['@id'] || '';
}

function textOf(v) {
    if (!v) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'object') return v.en || Object.values(v)[0] || '';
    return String(v);
}

export async function renderList(main) {
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const file = h('input', { id: 'model-file', type: 'file', accept: '.json,application/json', required: true });
    const name = h('input', { id: 'tpl-name', type: 'text', placeholder: 'from the model' });
    const form = h('form', { class: 'card', id: 'import-form' },
        h('h2', {}, 'Import a device model'),
        h('p', { class: 'muted' }, 'A DTDL v2 interface, a DTDL v1 capability model (DCM), or a template exported from iotc or IoT Central.'),
        h('div', { class: 'fields' },
            h('div', {}, h('label', { for: 'model-file' }, 'Model file'), file),
            h('div', {}, h('label', { for: 'tpl-name' }, 'Template name'), name)),
        msg,
        h('button', { type: 'submit', class: 'primary' }, 'Import'));
    const listBox = h('div', {}, h('p', { class: 'muted' }, 'Loading templates…'));
    clear(main, h('h1', {}, 'Device templates'), form, h('h2', {}, 'Templates'), listBox);

    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const f = file.files[0];
        if (!f) return inline(msg, 'error', 'Choose a model file first.');
        let doc;
        try {
            doc = JSON.parse(await f.text());
        } catch (err) {
            return inline(msg, 'error', `${f.name} is not valid JSON: ${err.message}`);
        }
        const id = modelId(doc);
        if (!id) return inline(msg, 'error', `${f.name} has no "@id": it does not look like a device model.`);
        const isTemplate = !Array.isArray(doc) && doc.capabilityModel;
        // Views are generated in a separate step, as in IoT Central ("Generate default views").
        const body = isTemplate ? { ...doc } : { '@id': id, '@type': ['ModelDefinition', 'DeviceModel'], capabilityModel: doc, views: [] };
        for (const k of ['etag', 'capabilities', 'components', 'created', 'dtdlVersion', 'modelId']) delete body[k];
        if (name.value.trim()) body.displayName = name.value.trim();
        // PUT publishes unless told otherwise; an import here is a draft until "Publish"
        if (body.published === undefined) body.published = false;
        inline(msg, 'info', `Importing ${f.name}…`);
        try {
            await put(tplPath(id), body);
            notify(`Imported ${id}.`);
            location.hash = `#/templates/${encodeURIComponent(id)}`;
        } catch (err) {
            inline(msg, 'error', `The model was not imported: ${errorText(err)}`);
        }
    });

    try {
        const tpls = await list('/api/deviceTemplates');
        if (tpls.length === 0) {
            clear(listBox, h('p', { class: 'muted' }, 'No device templates yet: import a model above.'));
            return;
        }
        clear(listBox, table(null, ['Name', 'Template ID', 'State', 'Views'], tpls.map((t) => h('tr', {},
            h('td', {}, h('a', { href: `#/templates/${encodeURIComponent(t['@id'])}` }, t.displayName || t['@id'])),
            h('td', {}, h('code', {}, t['@id'])),
            h('td', {}, t.published ? badge('Published', 'ok') : badge('Draft', 'warn')),
            h('td', {}, (t.views || []).map((v) => v.displayName).join(', ') || '—')))));
    } catch (err) {
        clear(listBox, h('p', { class: 'msg error', role: 'alert' }, `Templates cannot be listed: ${errorText(err)}`));
    }
}

/** Display names of every interface in the imported model, by @id (for grouping). */
function interfaceNames(model) {
    const names = new Map();
    const walk = (v) => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
            if (typeof v['@id'] === 'string' && v.displayName) names.set(v['@id'], textOf(v.displayName));
            Object.values(v).forEach(walk);
        }
    };
    walk(model);
    return names;
}

function slug(s, taken) {
    let base = s.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56) || 'view';
    let id = base;
    for (let i = 2; taken.has(id); i++) id = `${base}-${i}`;
    return id;
}

/** The default views, built from the template's capabilities like the server's own defaults. */
function defaultViews(tpl, which) {
    const caps = tpl.capabilities || [];
    const views = [];
    if (which.overview) {
        views.push({
            id: 'overview', displayName: 'Overview', type: 'dashboard',
            tiles: caps.filter((c) => c.kind === 'telemetry').map((c) => ({
                displayName: c.displayName || c.name, type: 'lineChart',
                capabilities: [{ component: c.component || '', name: c.name }],
            })),
        });
    }
    if (which.about) {
        views.push({
            id: 'about', displayName: 'About', type: 'form', readOnly: true,
            sections: [{
                displayName: 'Properties',
                fields: caps.filter((c) => c.kind === 'property').map((c) => ({ component: c.component || '', name: c.name })),
            }],
        });
    }
    return views;
}

export async function renderOne(main, id) {
    let tpl = await get(tplPath(id));
    const head = h('div', { class: 'page-head' });
    const capsBox = h('section', { class: 'card', 'aria-labelledby': 'caps-h' });
    const viewsBox = h('section', { class: 'card', 'aria-labelledby': 'views-h' });
    clear(main, h('p', {}, h('a', { href: '#/templates' }, '← Device templates')), head, capsBox, viewsBox);

    const save = async (change, what) => {
        try {
            tpl = await patch(tplPath(id), change);
            notify(`${what} saved.`);
            draw();
        } catch (err) {
            showError(`${what} not saved`, err);
        }
    };

    function drawHead() {
        const publish = h('button', { type: 'button', class: 'primary', id: 'publish' }, tpl.published ? 'Publish again' : 'Publish');
        publish.addEventListener('click', async () => {
            const ok = await confirmAction('Publish this device template to the application',
                'Devices can then be created from it, and devices that announce its model id are associated with it.', 'Publish');
            if (!ok) return;
            try {
                tpl = await post(`${tplPath(id)}/publish`, {});
                notify('The template is published.');
                draw();
            } catch (err) {
                showError('The template was not published', err);
            }
        });
        // Export: the template as GET returns it, which PUT accepts unchanged (a repository copy)
        const exp = h('button', { type: 'button', id: 'export' }, 'Export');
        exp.addEventListener('click', async () => {
            try {
                const full = await get(tplPath(id));
                const blob = new Blob([`${JSON.stringify(full, null, 2)}\n`], { type: 'application/json' });
                const a = h('a', { href: URL.createObjectURL(blob), download: `${id.replace(/[^A-Za-z0-9._-]+/g, '_')}.json` });
                document.body.append(a);
                a.click();
                a.remove();
                setTimeout(() => URL.revokeObjectURL(a.href), 10000);
            } catch (err) {
                showError('The template cannot be exported', err);
            }
        });
        const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
        remove.addEventListener('click', async () => {
            if (!(await confirmAction('Delete this template?', `${tpl.displayName} (${id}) will be removed. Templates that devices use cannot be deleted.`, 'Delete'))) return;
            try {
                await del(tplPath(id));
                notify('Template deleted.');
                location.hash = '#/templates';
            } catch (err) {
                showError('The template was not deleted', err);
            }
        });
        clear(head, h('div', {},
            h('h1', {}, tpl.displayName || id),
            h('p', { class: 'muted' }, h('code', {}, id), ' · DTDL v', String(tpl.dtdlVersion || '?'), ' · ',
                tpl.published ? badge('Published', 'ok') : badge('Draft', 'warn'),
                tpl.created ? ` · created ${fmtTime(tpl.created)}` : '')),
        h('div', { class: 'actions' }, publish, exp, remove));
    }

    function drawCaps() {
        const custom = structuredClone(tpl.customizations || {});
        const ifNames = interfaceNames(tpl.capabilityModel);
        const ifaces = new Set((tpl.capabilities || []).map((c) => c.interface));
        let lastIface = null;
        const rows = (tpl.capabilities || []).flatMap((c) => {
            // one heading row per interface, as IoT Central lists a template's interfaces
            const group = ifaces.size > 1 && c.interface !== lastIface
                ? h('tr', { class: 'group' }, h('th', { colspan: 4, scope: 'colgroup' }, `Interface: ${ifNames.get(c.interface) || c.interface}`))
                : null;
            lastIface = c.interface;
            const key = capKey(c);
            const cc = custom[key] || {};
            const idp = `cap-${key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
            const dn = h('input', { type: 'text', id: `${idp}-dn`, value: cc.displayName || '', placeholder: textOf(c.displayName) || c.name, 'aria-label': `Display name of ${c.name}` });
            dn.addEventListener('input', () => { (custom[key] ||= {}).displayName = dn.value.trim() || undefined; });
            const extra = [];
            if (c.schema === 'boolean') {
                const t = h('input', { type: 'text', id: `${idp}-true`, value: cc.trueName || '', placeholder: 'true', size: 10 });
                const f = h('input', { type: 'text', id: `${idp}-false`, value: cc.falseName || '', placeholder: 'false', size: 10 });
                t.addEventListener('input', () => { (custom[key] ||= {}).trueName = t.value.trim() || undefined; });
                f.addEventListener('input', () => { (custom[key] ||= {}).falseName = f.value.trim() || undefined; });
                extra.push(h('div', { class: 'inline-fields' },
                    h('label', { for: `${idp}-true` }, 'True name'), t,
                    h('label', { for: `${idp}-false` }, 'False name'), f));
            }
            if (c.kind === 'command') {
                const q = h('input', { type: 'checkbox', id: `${idp}-queue`, checked: cc.queueIfOffline ?? c.durable });
                q.addEventListener('change', () => { (custom[key] ||= {}).queueIfOffline = q.checked; });
                extra.push(h('div', { class: 'inline-fields' }, q, h('label', { for: `${idp}-queue` }, 'Queue if offline')));
            }
            const kind = c.kind === 'property' && c.writable ? 'Property (writable)' : c.kind[0].toUpperCase() + c.kind.slice(1);
            let schema = schemaName(c.schema);
            if (c.kind === 'command') schema = c.request ? `request ${c.request.name}: ${schemaName(c.request.schema)}` : 'no request';
            return [group, h('tr', {},
                h('td', {}, h('strong', {}, textOf(c.displayName) || c.name), h('br'),
                    h('code', { class: 'small' }, c.component ? `${c.component}/` : '', c.name)),
                h('td', {}, kind),
                h('td', {}, schema, c.unit ? ` (${unitText(c.unit)})` : ''),
                h('td', {}, dn, extra))].filter(Boolean);
        });
        const saveBtn = h('button', { type: 'button', class: 'primary', id: 'save-custom' }, 'Save customizations');
        saveBtn.addEventListener('click', () => {
            for (const k of Object.keys(custom)) {
                for (const f of Object.keys(custom[k])) if (custom[k][f] === undefined) delete custom[k][f];
                if (Object.keys(custom[k]).length === 0) delete custom[k];
            }
            // PATCH replaces the whole customizations object: send all of it
            save({ customizations: custom }, 'Customizations');
        });
        clear(capsBox, h('h2', { id: 'caps-h' }, 'Capabilities'),
            h('p', { class: 'muted' }, 'Customize: names shown to operators, boolean value names (e.g. Online / Offline), offline queueing of commands.'),
            table(null, ['Name', 'Capability', 'Schema', 'Customize'], rows, { className: 'caps' }),
            h('div', { class: 'actions' }, saveBtn));
    }

    // The view being edited (a copy until "Save view"), kept across redraws.
    let editing = null;

    function drawViews() {
        const views = tpl.views || [];
        if (editing && !views.some((v) => v.id === editing.id)) editing = null;
        const items = views.map((v, i) => {
            const rm = h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete view ${v.displayName}` }, 'Delete');
            rm.addEventListener('click', () => save({ views: views.filter((_, j) => j !== i) }, `View ${v.displayName} removal`));
            const ed = h('button', { type: 'button', class: 'small', 'aria-label': `Edit view ${v.displayName}`, 'aria-expanded': String(!!editing && editing.id === v.id) }, 'Edit');
            ed.addEventListener('click', () => {
                editing = editing && editing.id === v.id ? null : structuredClone(v);
                drawViews();
                const box = document.getElementById('view-name');
                if (box) box.focus();
            });
            const what = v.type === 'dashboard'
                ? `dashboard: ${(v.tiles || []).map((t) => t.displayName).join(', ') || 'no tiles'}`
                : `${v.readOnly ? 'read-only ' : ''}form: ${(v.sections || []).flatMap((s) => s.fields || []).map((f) => f.name).join(', ')}`;
            return h('li', {}, h('strong', {}, v.displayName), ` — ${what} `, ed, ' ', rm);
        });

        // A new, empty dashboard, opened in the editor.
        const dname = h('input', { type: 'text', id: 'dash-name', value: 'Dashboard', required: true });
        const addDash = h('button', { type: 'button', id: 'add-dashboard' }, 'Add dashboard');
        const dashMsg = h('p', { class: 'msg', hidden: true, role: 'alert' });
        addDash.addEventListener('click', async () => {
            const name = dname.value.trim();
            if (!name) return inline(dashMsg, 'error', 'Give the dashboard a name.');
            const view = { id: slug(name, new Set(views.map((v) => v.id))), displayName: name, type: 'dashboard', tiles: [] };
            editing = structuredClone(view);
            await save({ views: [...views, view] }, `View ${name}`);
        });

        // Generate default views (Overview, About), as the tutorial's first Views tile.
        const ov = h('input', { type: 'checkbox', id: 'gen-overview', checked: true });
        const ab = h('input', { type: 'checkbox', id: 'gen-about', checked: true });
        const gen = h('button', { type: 'button', id: 'generate-views' }, 'Generate default views');
        gen.addEventListener('click', () => {
            const made = defaultViews(tpl, { overview: ov.checked, about: ab.checked });
            const ids = new Set(made.map((v) => v.id));
            save({ views: [...views.filter((v) => !ids.has(v.id)), ...made] }, 'Default views');
        });

        // A form view from ticked properties ("Editing device and cloud data").
        const props = (tpl.capabilities || []).filter((c) => c.kind === 'property');
        const vname = h('input', { type: 'text', id: 'form-name', value: 'Properties', required: true });
        const sname = h('input', { type: 'text', id: 'section-name', value: 'Settings' });
        const ro = h('input', { type: 'checkbox', id: 'form-readonly' });
        const ticks = props.map((c) => {
            const cid = `tick-${capKey(c).replace(/[^A-Za-z0-9_-]/g, '_')}`;
            const box = h('input', { type: 'checkbox', id: cid, value: capKey(c), dataset: { writable: c.writable ? '1' : '' } });
            return h('div', { class: 'tick' }, box, h('label', { for: cid }, `${textOf(c.displayName) || c.name}${c.writable ? '' : ' (read-only)'}`));
        });
        const formMsg = h('p', { class: 'msg', hidden: true, role: 'alert' });
        const add = h('button', { type: 'button', id: 'add-form-view' }, 'Add section and save view');
        add.addEventListener('click', () => {
            const chosen = props.filter((c) => document.getElementById(`tick-${capKey(c).replace(/[^A-Za-z0-9_-]/g, '_')}`).checked);
            if (!vname.value.trim()) return inline(formMsg, 'error', 'Give the form a name.');
            if (chosen.length === 0) return inline(formMsg, 'error', 'Tick at least one property.');
            if (!ro.checked && chosen.some((c) => !c.writable)) {
                return inline(formMsg, 'error', 'An editable form holds writable properties only: untick the read-only ones, or make the form read-only.');
            }
            inline(formMsg, 'info', '');
            const view = {
                id: slug(vname.value.trim(), new Set(views.map((v) => v.id))),
                displayName: vname.value.trim(), type: 'form',
                sections: [{ displayName: sname.value.trim() || vname.value.trim(), fields: chosen.map((c) => ({ component: c.component || '', name: c.name })) }],
            };
            if (ro.checked) view.readOnly = true;
            save({ views: [...views, view] }, `View ${view.displayName}`);
        });

        clear(viewsBox, h('h2', { id: 'views-h' }, 'Views'),
            items.length ? h('ul', { class: 'views' }, items) : h('p', { class: 'muted' }, 'No views yet.'),
            editing ? viewEditor(views) : null,
            h('div', { class: 'grid2' },
                h('fieldset', {}, h('legend', {}, 'New dashboard'),
                    h('label', { for: 'dash-name' }, 'Dashboard name'), dname, dashMsg, addDash),
                h('fieldset', {}, h('legend', {}, 'Generate default views'),
                    h('div', { class: 'tick' }, ov, h('label', { for: 'gen-overview' }, 'Overview (a chart per telemetry)')),
                    h('div', { class: 'tick' }, ab, h('label', { for: 'gen-about' }, 'About (every property, read-only)')),
                    gen),
                h('fieldset', {}, h('legend', {}, 'Editing device and cloud data (form)'),
                    h('label', { for: 'form-name' }, 'Form name'), vname,
                    h('label', { for: 'section-name' }, 'Section name'), sname,
                    h('p', { class: 'muted' }, 'Properties:'), h('div', { class: 'ticks' }, ticks),
                    h('div', { class: 'tick' }, ro, h('label', { for: 'form-readonly' }, 'Read-only form')),
                    formMsg, add)));
    }

    /** The editor of the view in `editing`: its name, and for a dashboard its tiles (add, remove, reorder). */
    function viewEditor(views) {
        const v = editing;
        const caps = tpl.capabilities || [];
        const capName = (c) => `${textOf(c.displayName) || c.name}${c.component ? ` (${c.component})` : ''}`;
        const refCap = (r) => caps.find((c) => (c.component || '') === (r.component || '') && c.name === r.name);
        const msg = h('p', { class: 'msg', hidden: true, role: 'alert' });
        const nameBox = h('input', { type: 'text', id: 'view-name', value: v.displayName, required: true });
        nameBox.addEventListener('input', () => { v.displayName = nameBox.value; });
        // the heading names the view as saved: the draft's name may be half typed
        const savedName = (views.find((x) => x.id === v.id) || v).displayName;
        const parts = [h('h3', { id: 'edit-h' }, `Edit view: ${savedName}`),
            h('div', { class: 'field' }, h('label', { for: 'view-name' }, 'View name'), nameBox)];
        /** Redraw, then put the focus on the first enabled button of @p labels (it moved with its tile), else on Add tile. */
        const redraw = (...labels) => {
            drawViews();
            if (!labels.length || labels[0] === null) return;
            const buttons = [...viewsBox.querySelectorAll('button')];
            const el = labels.map((l) => buttons.find((b) => b.getAttribute('aria-label') === l && !b.disabled)).find(Boolean);
            (el || document.getElementById('add-tile')).focus();
        };
        if (v.type === 'dashboard') {
            v.tiles ||= [];
            const rows = v.tiles.map((t, i) => {
                const cap = refCap((t.capabilities || [])[0] || {});
                const tname = h('input', { type: 'text', id: `tile-name-${i}`, value: t.displayName, 'aria-label': `Name of tile ${i + 1}` });
                tname.addEventListener('input', () => { t.displayName = tname.value; });
                const btn = (label, text, disabled, fn) => {
                    const b = h('button', { type: 'button', class: 'small', 'aria-label': label, title: label, disabled }, text);
                    b.addEventListener('click', fn);
                    return b;
                };
                const move = (d) => () => {
                    const [x] = v.tiles.splice(i, 1);
                    v.tiles.splice(i + d, 0, x);
                    redraw(`Move ${t.displayName} ${d < 0 ? 'up' : 'down'}`, `Move ${t.displayName} ${d < 0 ? 'down' : 'up'}`);
                };
                // what the tile shows under its name: three columns fit a phone, five would not
                return h('tr', {},
                    h('td', {}, String(i + 1)),
                    h('td', {}, tname, h('div', { class: 'muted small' },
                        `${TILE_TYPES.get(t.type) || t.type} · ${cap ? capName(cap) : (t.capabilities || []).map((r) => r.name).join(', ')}`)),
                    h('td', {}, h('div', { class: 'order' },
                        btn(`Move ${t.displayName} up`, '↑ Up', i === 0, move(-1)),
                        btn(`Move ${t.displayName} down`, '↓ Down', i === v.tiles.length - 1, move(1)),
                        btn(`Remove ${t.displayName}`, 'Remove', false, () => {
                            v.tiles.splice(i, 1);
                            redraw(v.tiles.length ? `Remove ${v.tiles[Math.min(i, v.tiles.length - 1)].displayName}` : '');
                        }))));
            });
            parts.push(rows.length ? table('Tiles, in the order shown', ['#', 'Tile', 'Order'], rows, { className: 'tiles-edit' })
                : h('p', { class: 'muted' }, 'No tiles yet: add one below.'));

            const typeSel = h('select', { id: 'tile-type' }, [...TILE_TYPES].map(([k, label]) => h('option', { value: k }, label)));
            const capSel = h('select', { id: 'tile-cap' });
            const tileName = h('input', { type: 'text', id: 'tile-name', placeholder: 'the capability\'s name' });
            const fillCaps = () => {
                const kind = TILE_KIND[typeSel.value];
                clear(capSel, caps.filter((c) => c.kind === kind).map((c) => h('option', { value: capKey(c) }, capName(c))));
            };
            typeSel.addEventListener('change', fillCaps);
            fillCaps();
            const addTile = h('button', { type: 'button', id: 'add-tile' }, 'Add tile');
            addTile.addEventListener('click', () => {
                const cap = caps.find((c) => capKey(c) === capSel.value && c.kind === TILE_KIND[typeSel.value]);
                if (!cap) return inline(msg, 'error', `The template has no ${TILE_KIND[typeSel.value]} for this tile.`);
                v.tiles.push({
                    displayName: tileName.value.trim() || textOf(cap.displayName) || cap.name, type: typeSel.value,
                    capabilities: [{ component: cap.component || '', name: cap.name }],
                });
                redraw(null);
                const last = document.getElementById(`tile-name-${v.tiles.length - 1}`);
                if (last) last.focus();
            });
            parts.push(h('fieldset', { class: 'add-tile' }, h('legend', {}, 'Add a tile'),
                h('div', { class: 'inline-fields' },
                    h('label', { for: 'tile-type' }, 'Tile type'), typeSel,
                    h('label', { for: 'tile-cap' }, 'Capability'), capSel,
                    h('label', { for: 'tile-name' }, 'Tile name'), tileName, addTile)));
        }
        const saveBtn = h('button', { type: 'button', class: 'primary', id: 'save-view' }, 'Save view');
        saveBtn.addEventListener('click', () => {
            const name = v.displayName.trim();
            if (!name) return inline(msg, 'error', 'Give the view a name.');
            if (v.type === 'dashboard' && v.tiles.some((t) => !t.displayName.trim())) return inline(msg, 'error', 'Every tile needs a name.');
            v.displayName = name;
            const saved = structuredClone(v);
            save({ views: views.map((x) => (x.id === v.id ? saved : x)) }, `View ${name}`);
        });
        const cancel = h('button', { type: 'button', id: 'cancel-view' }, 'Close without saving');
        cancel.addEventListener('click', () => { editing = null; drawViews(); });
        parts.push(msg, h('div', { class: 'actions' }, saveBtn, cancel));
        return h('section', { class: 'view-editor', role: 'region', 'aria-labelledby': 'edit-h' }, parts);
    }

    function draw() {
        if (editing) editing = structuredClone((tpl.views || []).find((v) => v.id === editing.id) || null);
        drawHead();
        drawCaps();
        drawViews();
    }
    draw();
}
