// The pure parts of the fleet views, in Node without a browser: the devices list's search,
// filters, sort and pages (listView), its state in the address (listState / listHash, a round
// trip and bad values), and a command's request with its template name (requestText).
import { runSteps } from './lib.mjs';
import { LIST_DEFAULTS, listHash, listState, listView } from '../../web/js/devices.js';
import { describeCommand, prettyJson, requestText } from '../../web/js/command_history.js';

const pad = (i) => String(i).padStart(3, '0');
const devices = Array.from({ length: 60 }, (_, k) => {
    const i = k + 1;
    return {
        id: `d-${pad(i)}`, displayName: i % 7 === 0 ? undefined : `Pump ${pad(61 - i)}`,
        template: i % 10 === 0 ? undefined : i % 2 ? 'tA' : 'tB',
        status: i % 10 === 0 ? 'unassociated' : i % 15 === 0 ? 'blocked' : i % 3 ? 'registered' : 'provisioned',
        connected: i % 4 === 0, lastActivity: i % 5 ? `2026-12-07T10:${pad(i).slice(1)}:00.000Z` : undefined,
    };
});
const name = (id) => ({ tA: 'Alpha', tB: 'Beta' }[id] || id);
const view = (over) => listView(devices, { ...LIST_DEFAULTS, ...over }, name);
const expect = (cond, what) => {
    if (!cond) throw new Error(what);
};

await runSteps(async (step) => {
    step('pages of 25: three pages, the last one short, a page past the end is the last', async () => {
        const v = view({});
        expect(v.total === 60 && v.pages === 3 && v.rows.length === 25, JSON.stringify([v.total, v.pages, v.rows.length]));
        const last = view({ page: 9 });
        expect(last.page === 3 && last.rows.length === 10, `page ${last.page}, ${last.rows.length} rows`);
        expect(view({ size: 100 }).pages === 1, 'one page of 100');
        const none = view({ q: 'nothing like this' });
        expect(none.total === 0 && none.pages === 1 && none.page === 1 && none.rows.length === 0, JSON.stringify(none));
    });
    step('search in names and ids, any case; filters combine', async () => {
        expect(view({ q: 'PUMP 060' }).rows.map((d) => d.id).join() === 'd-001', 'by name');
        expect(view({ q: 'd-01' }).total === 10, 'by id');
        // a device without a name is found by its id and sorted by it
        expect(view({ q: 'd-007' }).total === 1, 'unnamed by id');
        expect(view({ template: '-' }).rows.every((d) => !d.template) && view({ template: '-' }).total === 6, 'unassigned');
        expect(view({ template: 'tB', conn: 'connected' }).rows.every((d) => d.template === 'tB' && d.connected), 'template and connection');
        expect(view({ conn: 'disconnected' }).total === 45, `disconnected ${view({ conn: 'disconnected' }).total}`);
        expect(view({ status: 'blocked' }).total === 2, `blocked ${view({ status: 'blocked' }).total}`);
    });
    step('sort by each column both ways; ties in id order', async () => {
        const ids = (over) => view({ size: 100, ...over }).rows.map((d) => d.id);
        expect(ids({ sort: 'id', dir: 'desc' })[0] === 'd-060', 'id descending');
        // by name, an unnamed device by its id: "d-007" comes before "Pump 001" (d-060)
        const byName = ids({});
        expect(byName[0] === 'd-007' && byName[8] === 'd-060' && byName[9] === 'd-059', `name ascending: ${byName.slice(0, 10)}`);
        const byTpl = view({ size: 100, sort: 'template' }).rows;
        expect(!byTpl[0].template && byTpl[6].template === 'tA' && byTpl[59].template === 'tB', 'template: unassigned, Alpha, Beta');
        const conn = view({ size: 100, sort: 'conn', dir: 'desc' }).rows;
        expect(conn.slice(0, 15).every((d) => d.connected), 'connected first when descending');
        const tie = conn.slice(0, 15).map((d) => d.id);
        expect(tie.join() === [...tie].sort().join(), 'ties in id order');
        const act = view({ size: 100, sort: 'activity', dir: 'desc' }).rows;
        expect(act[0].lastActivity >= act[1].lastActivity && !act[59].lastActivity, 'activity descending, never-active last');
    });
    step('the address: defaults leave it bare, a round trip keeps everything, bad values fall back', async () => {
        expect(listHash({ ...LIST_DEFAULTS }) === '#/devices', listHash({ ...LIST_DEFAULTS }));
        const st = { ...LIST_DEFAULTS, q: 'a b&c', template: 'dtmi:x:y;1', status: 'blocked', conn: 'connected', sort: 'activity', dir: 'desc', page: 4, size: 50 };
        const back = listState(listHash(st));
        expect(JSON.stringify(back) === JSON.stringify(st), `${listHash(st)} -> ${JSON.stringify(back)}`);
        const bad = listState('#/devices?sort=evil&dir=sideways&page=-3&size=7');
        expect(bad.sort === 'name' && bad.dir === 'asc' && bad.page === 1 && bad.size === 25, JSON.stringify(bad));
    });
    step('a request with its template name; no "null" for a command without a response', async () => {
        const caps = [{ kind: 'command', name: 'blink', component: '', request: { name: 'interval', displayName: 'Interval' } },
            { kind: 'command', name: 'reboot', component: 'sys', request: { name: 'delay' } }];
        expect(requestText({ name: 'blink', component: '', request: 2 }, caps) === 'Interval: 2', 'root command');
        expect(requestText({ name: 'reboot', component: 'sys', request: { s: 1 } }, caps) === 'delay: {"s":1}', 'component command');
        expect(requestText({ name: 'reboot', component: '', request: 5 }, caps) === '5', 'not in the template: bare JSON');
        expect(requestText({ name: 'blink', request: null }, caps) === '', 'no request');
        expect(describeCommand({ status: 'completed', responseCode: 200, response: null }) === 'Completed (200)', 'null response');
        expect(prettyJson({ a: [1] }) === '{\n  "a": [\n    1\n  ]\n}', 'indented');
    });
    return null;
});
