// Samples the memory of the process that PARENT (e.g. /usr/bin/time timeout ...) runs (the last
// of its chain of descendants), every 2 ms until it
// exits, and prints one JSON line:
//   anon_peak_kb  largest RssAnon seen: the process's own memory (heap, stacks, relocated data)
//   file_kb       RssFile at that moment: pages of the executable and its shared libraries
//   samples       how many samples were taken
// VmHWM (peak RSS, anonymous + file pages) comes exactly from /usr/bin/time; RssAnon has no
// high-water mark in the kernel, hence the sampling (a peak shorter than 2 ms can be missed).
//
//   node bench/memwatch.mjs PARENT_PID
import fs from 'node:fs';

const parent = process.argv[2];
const kb = (text, key) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
};
const childOf = (p) => {
    try {
        return fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/)[0] || null;
    } catch {
        return null;
    }
};
const comm = (p) => {
    try {
        return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
        return '';
    }
};
// PARENT's child, or that child's child while the child is a wrapper (timeout, time).
const child = () => {
    let p = childOf(parent);
    while (p !== null && ['timeout', 'time'].includes(comm(p))) p = childOf(p);
    return p;
};

let pid = null, anon = 0, file = 0, samples = 0;
const deadline = Date.now() + 5000;
while (pid === null && Date.now() < deadline) {
    pid = child();
    if (pid === null) await new Promise((r) => setTimeout(r, 1));
}
if (pid !== null) {
    for (;;) {
        let text;
        try {
            text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        } catch {
            break;
        }
        if (/^State:\s+Z/m.test(text)) break;
        samples++;
        const a = kb(text, 'RssAnon');
        if (a > anon) {
            anon = a;
            file = kb(text, 'RssFile');
        }
        await new Promise((r) => setTimeout(r, 2));
    }
}
console.log(JSON.stringify({ anon_peak_kb: anon, file_kb: file, samples }));
