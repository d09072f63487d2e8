// Runs an interop test file inside a private network namespace: `unshare -rn` makes a user
// namespace (the caller mapped to root) with a network namespace of its own, whose only
// interface, `lo`, is brought up. There the server may take the ports real devices use (443,
// 8883, 8443) without touching, or colliding with, the host's: the test sees exactly what a
// device sees on a machine where iotc-central runs with its default settings.
//
// A file calls `await privateNetwork(import.meta.url)` before interopMain(): outside the
// namespace it runs the file again inside one and exits with that run's code; inside it returns.
// Without user namespaces (or `ip`) the file fails and says why: it is never skipped.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const INSIDE = 'IOTC_INTEROP_NETNS';

export async function privateNetwork(fileUrl) {
    if (process.env[INSIDE] === '1') return;
    const probe = spawnSync('unshare', ['-rn', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
        const why = probe.error ? probe.error.message : (probe.stderr || `exit ${probe.status}`).trim();
        console.log(`not ok - cannot make a private network namespace (unshare -rn, ip link set lo up): ${why}`);
        console.log('0 passed, 1 failed');
        process.exit(1);
    }
    const child = spawn('unshare', ['-rn', '/bin/sh', '-c', 'ip link set lo up && exec "$@"', 'sh',
        process.execPath, fileURLToPath(fileUrl)], { env: { ...process.env, [INSIDE]: '1' }, stdio: 'inherit' });
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.once(sig, () => child.kill(sig));
    const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
    process.exit(code);
}
