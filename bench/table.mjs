// Print the `make bench` table from the JSON files tools/bench.sh collected in one directory.
//   node bench/table.mjs DIR
// Every figure comes from those files (iotc-sim summaries, /usr/bin/time lines, the Node SDK
// device's JSON line); nothing is asserted: goals are printed next to the measurements.
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const read = (name) => {
    try {
        return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
    } catch {
        return null;
    }
};
const get = (o, p) => p.split('.').reduce((v, k) => (v == null ? undefined : v[k]), o);
const meta = read('meta.json') ?? {};

const fmt = (v, digits = 0) => {
    if (v === undefined || v === null || Number.isNaN(v)) return 'n/a';
    return Number(v).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
};
const ratio = (a, b) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}x` : '-');
// How iotc compares with a reference where smaller is better: "2.50x less" or "1.20x more".
const better = (ref, iotc, good, bad) => {
    if (!(ref > 0 && iotc > 0)) return '-';
    return ref >= iotc ? `${(ref / iotc).toFixed(2)}x ${good}` : `${(iotc / ref).toFixed(2)}x ${bad}`;
};
const pair = (o, p) => `${fmt(get(o, `${p}.p50`), 1)} / ${fmt(get(o, `${p}.p99`), 1)}`;

const rows = [];
// Only the rows that were run (tools/bench.sh --rows) are printed.
const row = (id, what, iotc, ref, r, goal, status) => {
    if (!meta.rows || meta.rows.includes(Number(id))) rows.push([id, what, iotc, ref, r, goal, status]);
};
const verdict = (ok) => (ok === undefined ? '' : ok ? 'met' : 'MISSED');

// 1. ingest
{
    const c = read('r1-central.json'), m = read('r1-mosquitto.json');
    const n = get(c, 'window.connected') ?? meta.n_ingest;
    const ci = get(c, 'window.acked_per_s'), mi = get(m, 'window.acked_per_s');
    const ok = ci > 0 && mi > 0 ? ci >= mi : undefined;
    row('1', `ingest QoS1/TLS, ${fmt(n)} devices: acked msg/s`, fmt(ci), `mosquitto ${fmt(mi)}`, ratio(ci, mi),
        '>= mosquitto', verdict(ok));
    const cc = get(c, 'server.msgs_per_cpu_s'), mc = get(m, 'server.msgs_per_cpu_s');
    row('1', '  messages per server CPU-second', fmt(cc), fmt(mc), ratio(cc, mc), '', '');
    row('1', '  server CPU use (cores)', fmt(get(c, 'server.cpu_util'), 2), fmt(get(m, 'server.cpu_util'), 2), '', '', '');
    row('1', '  PUBACK latency p50 / p99 (ms)', pair(c, 'latency_ms.puback'), pair(m, 'latency_ms.puback'), '', '', '');
}
// 2. idle connections
{
    const c = read('r2-central.json'), m = read('r2-mosquitto.json');
    const cb = get(c, 'server.rss_per_connection_bytes'), mb = get(m, 'server.rss_per_connection_bytes');
    const n = get(c, 'window.connected') ?? meta.n_idle;
    row('2', `idle TLS connections (${fmt(n)}): server KB/conn`, fmt(cb / 1024, 1), `mosquitto ${fmt(mb / 1024, 1)}`,
        ratio(cb, mb), '<= 16 KB', verdict(cb > 0 ? cb <= 16384 : undefined));
    row('2', '  connections held (iotc / mosquitto)', fmt(get(c, 'window.connected')), fmt(get(m, 'window.connected')), '', '', '');
}
// 3. command round trip
{
    const c = read('r3-central.json');
    const p99 = get(c, 'latency_ms.method_round_trip.p99');
    row('3', `command round trip REST->device->REST, ${fmt(get(c, 'window.connected') ?? meta.n_cmd)} devices: p50 / p99 ms`,
        pair(c, 'latency_ms.method_round_trip'), '-', '', 'p99 <= 5 ms', verdict(p99 > 0 ? p99 <= 5 : undefined));
    row('3', '  calls answered 200 / made', `${fmt(get(c, 'rest.ok'))} / ${fmt(get(c, 'latency_ms.method_round_trip.count'))}`, '', '', '', '');
}
// 4. DPS
{
    const c = read('r4-central.json');
    const r = get(c, 'registrations_per_s');
    row('4', `DPS registrations/s (${fmt(get(c, 'provisioned'))} devices)`, fmt(r), '-', '', '>= 1000/s',
        verdict(r > 0 ? r >= 1000 : undefined));
    row('4', '  registration latency p50 / p99 (ms)', pair(c, 'latency_ms.dps_registration'), '', '', '', '');
    row('4', '  registrations per server CPU-second', fmt(get(c, 'server.registrations_per_cpu_s')), '', '', '', '');
}
// 5. device side
{
    const cf = read('r5-c-first.json'), nf = read('r5-node-first.json');
    const cm = read('r5-c-msgs.json'), nm = read('r5-node-msgs.json');
    const cFirst = get(cf, 'wall_ms'), nFirst = get(nf, 'wall_ms');
    row('5', 'device: start -> first acked telemetry, through DPS (ms)', fmt(cFirst), `node ${fmt(nFirst)}`, better(nFirst, cFirst, 'faster', 'slower'), '', '');
    const cCached = get(read('r5-c-cached.json'), 'wall_ms');
    row('5', '  with the DPS assignment kept from the first start (ms)', fmt(cCached), '', '', '<= 20 ms',
        verdict(cCached > 0 ? cCached <= 20 : undefined));
    // VmHWM counts every page of the shared libraries the process touched; the floor row is what
    // any client on the same libraries reaches, so the goal is judged on the process's own memory.
    const cr = get(cm, 'max_rss_kb'), nr = get(nm, 'max_rss_kb'), fl = read('r5-floor.json');
    row('5', 'device: peak RSS, VmHWM (KB)', fmt(cr), `node ${fmt(nr)}`, better(nr, cr, 'less', 'more'), '', '');
    row('5', '  of which shared-library pages (KB)', fmt(get(cm, 'file_kb')), `node ${fmt(get(nm, 'file_kb'))}`, '', '', '');
    row('5', '  floor: mosquitto_pub, 1 TLS publish (KB)', fmt(get(fl, 'max_rss_kb')), '', '', '', '');
    const ca = get(cm, 'anon_peak_kb'), na = get(nm, 'anon_peak_kb');
    row('5', 'device: own memory, peak RssAnon (KB)', fmt(ca), `node ${fmt(na)}`, better(na, ca, 'less', 'more'),
        '<= 2048 KB', verdict(ca > 0 ? ca <= 2048 : undefined));
    const per = (o) => (get(o, 'cpu_s') > 0 && get(o, 'acked') > 0 ? (get(o, 'cpu_s') * 10000) / get(o, 'acked') : undefined);
    const cc = per(cm), nc = per(nm);
    row('5', `device: CPU s per 10,000 msgs (run of ${fmt(get(cm, 'acked') ?? meta.msgs)})`, fmt(cc, 3), `node ${fmt(nc, 3)}`,
        better(nc, cc, 'less', 'more'), '>= 10x less', verdict(cc > 0 && nc > 0 ? nc / cc >= 10 : undefined));
}

// 7. ingest, one message in flight per device, no subscriber on mosquitto
for (const n of [100, 1000]) {
    const c = read(`r7-${n}-central.json`), m = read(`r7-${n}-mosquitto.json`);
    if (!c && !m) continue;
    const ci = get(c, 'window.acked_per_s'), mi = get(m, 'window.acked_per_s');
    row('7', `ingest QoS1/TLS, ${fmt(n)} devices, 1 in flight: acked msg/s`, fmt(ci), `mosquitto ${fmt(mi)}`,
        ratio(ci, mi), '>= mosquitto', verdict(ci > 0 && mi > 0 ? ci >= mi : undefined));
    const cc = get(c, 'server.msgs_per_cpu_s'), mc = get(m, 'server.msgs_per_cpu_s');
    row('7', '  messages per server CPU-second', fmt(cc), fmt(mc), ratio(cc, mc), '>= mosquitto',
        verdict(cc > 0 && mc > 0 ? cc >= mc : undefined));
    const cp = get(c, 'latency_ms.puback.p99'), mp = get(m, 'latency_ms.puback.p99');
    row('7', '  PUBACK latency p50 / p99 (ms)', pair(c, 'latency_ms.puback'), pair(m, 'latency_ms.puback'), '',
        'p99 <= mosquitto', verdict(cp > 0 && mp > 0 ? cp <= mp : undefined));
}
// 8. many connections, one message a minute each (bench/conns.sh; sums over its processes)
{
    const c = read('r8-central.json'), m = read('r8-mosquitto.json');
    const cb = get(c, 'server.rss_per_connection_bytes'), mb = get(m, 'server.rss_per_connection_bytes');
    const n = get(c, 'devices') ?? get(m, 'devices') ?? meta.n_conns;
    const procs = Math.max(get(c, 'processes') ?? 1, get(m, 'processes') ?? 1);
    row('8', `${fmt(n)} TLS devices, 1 msg/min each: server KB/conn`, fmt(cb / 1024, 1),
        `mosquitto ${fmt(mb / 1024, 1)}`, ratio(cb, mb), '<= mosquitto', verdict(cb > 0 && mb > 0 ? cb <= mb : undefined));
    if (procs > 1) row('8', '  server processes (open-file limit per process)', fmt(get(c, 'processes')), fmt(get(m, 'processes')), '', '', '');
    const held = (o) => get(o, 'window.connected');
    row('8', '  connections held (iotc / mosquitto)', fmt(held(c)), fmt(held(m)), '', 'all',
        verdict(c ? held(c) === n : undefined));
    row('8', '  connect storm: seconds, connects/s', `${fmt(get(c, 'storm.seconds'), 1)}, ${fmt(get(c, 'storm.connects_per_s'))}`,
        `${fmt(get(m, 'storm.seconds'), 1)}, ${fmt(get(m, 'storm.connects_per_s'))}`, '', '', '');
    const errs = (o) => (o ? `${fmt(get(o, 'errors.timeout') ?? 0)} / ${fmt(get(o, 'errors_total'))} / ${fmt(get(o, 'reconnects'))}` : 'n/a');
    row('8', '  connect timeouts / errors / reconnects', errs(c), errs(m), '', 'no timeouts',
        verdict(c ? (get(c, 'errors.timeout') ?? 0) === 0 : undefined));
    row('8', '  messages acked / sent (whole run)', `${fmt(get(c, 'acked'))} / ${fmt(get(c, 'sent'))}`,
        `${fmt(get(m, 'acked'))} / ${fmt(get(m, 'sent'))}`, '', 'all acked',
        verdict(c ? get(c, 'acked') === get(c, 'sent') && get(c, 'sent') > 0 : undefined));
    row('8', '  devices with >= 2 messages acked', fmt(get(c, 'devices_acked.two_or_more')),
        fmt(get(m, 'devices_acked.two_or_more')), '', 'all', verdict(c ? get(c, 'devices_acked.two_or_more') === n : undefined));
}

const head = ['row', 'measurement', 'iotc', 'reference', 'ratio', 'goal', 'status'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
console.log(`iotc benchmarks${meta.quick ? ' (--quick)' : ''}: ${meta.date ?? ''}, ${meta.cpus ?? '?'} CPUs, ` +
    `load average ${meta.load_start ?? '?'} -> ${meta.load_end ?? '?'}, ${meta.mosquitto ?? 'mosquitto n/a'}, node ${meta.node ?? 'n/a'}`);
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
