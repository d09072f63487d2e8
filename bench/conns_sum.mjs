// Sum the iotc-sim summaries of one bench/conns.sh run (one per server process) into one, in
// the shape bench/table.mjs reads (row 8).
//   node bench/conns_sum.mjs DEVICES PROCESSES FILE...
// Counts add up; the storm lasts as long as its longest process (they start together); server
// memory per connection is the sum of the processes' RSS growth over the sum of connections;
// latency percentiles are the largest of the processes' (an upper bound of the whole run's).
import fs from 'node:fs';

const [devices, processes, ...files] = process.argv.slice(2);
const runs = files.map((f) => {
    try {
        return JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch {
        return null; // a process that died wrote nothing: its devices count as not connected
    }
});
const ok = runs.filter(Boolean);
const sum = (get) => ok.reduce((a, r) => a + (Number(get(r)) || 0), 0);
const max = (get) => ok.reduce((a, r) => Math.max(a, Number(get(r)) || 0), 0);
const round = (v, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

const errors = {};
for (const r of ok) for (const [k, v] of Object.entries(r.errors || {})) errors[k] = (errors[k] || 0) + v;
const stormS = max((r) => r.storm?.seconds);
const stormConnected = sum((r) => r.storm?.connected);
const connected = sum((r) => r.window?.connected);
const rssGrowthKb = sum((r) => (r.server?.rss_connected_kb ?? 0) - (r.server?.rss_base_kb ?? 0));
const cpu = sum((r) => r.server?.cpu_s);
const acked = sum((r) => r.window?.acked);
const lat = (name) => ({
    count: sum((r) => r.latency_ms?.[name]?.count),
    p50: max((r) => r.latency_ms?.[name]?.p50),
    p99: max((r) => r.latency_ms?.[name]?.p99),
    max: max((r) => r.latency_ms?.[name]?.max),
});
const out = {
    devices: Number(devices),
    processes: Number(processes),
    processes_reporting: ok.length,
    connected: sum((r) => r.connected),
    failed: sum((r) => r.failed),
    reconnects: sum((r) => r.reconnects),
    sent: sum((r) => r.sent),
    acked: sum((r) => r.acked),
    storm: { seconds: stormS, connected: stormConnected, connects_per_s: stormS > 0 ? round(stormConnected / stormS) : 0 },
    devices_acked: {
        min: ok.length ? Math.min(...ok.map((r) => r.devices_acked?.min ?? 0)) : 0,
        none: sum((r) => r.devices_acked?.none),
        one: sum((r) => r.devices_acked?.one),
        two_or_more: sum((r) => r.devices_acked?.two_or_more),
    },
    window: {
        connected,
        seconds: max((r) => r.window?.seconds),
        sent: sum((r) => r.window?.sent),
        acked,
    },
    server: {
        cpu_s: round(cpu, 2),
        msgs_per_cpu_s: cpu > 0 ? round(acked / cpu) : 0,
        rss_base_kb: sum((r) => r.server?.rss_base_kb),
        rss_connected_kb: sum((r) => r.server?.rss_connected_kb),
        hwm_kb: sum((r) => r.server?.hwm_kb),
        run_cpu_s: round(sum((r) => r.server?.run_cpu_s), 2),
        rss_per_connection_bytes: connected > 0 ? Math.round((rssGrowthKb * 1024) / connected) : null,
    },
    latency_ms: { connect: lat('connect'), puback: lat('puback') },
    errors,
    errors_total: sum((r) => r.errors_total),
    sim: { cpu_s: round(sum((r) => r.sim?.cpu_s), 2), hwm_kb: sum((r) => r.sim?.hwm_kb) },
};
console.log(JSON.stringify(out, null, 1));
