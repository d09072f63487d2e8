// Minimal sequential test runner for the interop tests: every test has a timeout, results are
// printed as they finish and the run ends with exactly one "N passed, N failed" line.
export function createSuite(name) {
    const tests = [];
    return {
        test(title, fn, { timeout = 15000 } = {}) {
            tests.push({ title, fn, timeout });
        },
        async run() {
            let passed = 0;
            let failed = 0;
            for (const t of tests) {
                const started = Date.now();
                let timer;
                try {
                    await Promise.race([
                        Promise.resolve().then(t.fn),
                        new Promise((_, reject) => {
                            timer = setTimeout(() => reject(new Error(`timed out after ${t.timeout} ms`)),
                                t.timeout);
                        }),
                    ]);
                    passed++;
                    console.log(`ok - ${name}: ${t.title} (${Date.now() - started} ms)`);
                } catch (err) {
                    failed++;
                    console.log(`not ok - ${name}: ${t.title} (${Date.now() - started} ms)`);
                    console.log(`    ${String(err && err.stack ? err.stack : err).split('\n').join('\n    ')}`);
                } finally {
                    clearTimeout(timer);
                }
            }
            console.log(`${passed} passed, ${failed} failed`);
            return failed === 0;
        },
    };
}

/** Resolve when fn() is truthy (polled every 50 ms), reject after ms. */
export async function waitFor(fn, ms, what) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

/** Promise that rejects after ms (for Promise.race). */
export function deadline(ms, what) {
    return new Promise((_, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
        t.unref();
    });
}
