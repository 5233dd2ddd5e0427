// Starts the real cryo-crd server on a free loopback port (port 0) for a test and stops it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// What these tests check is the wording and the pages, not the store's deadline: without a
// configuration of the caller's, the store may wait up to 5 s for a commit, so that a disk
// busy with other tests (a browser starting, say) does not turn one slow fsync into a 503.
export async function startServer(binary, extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'cryo-crd-browser-'));
  const args = [...extraArgs];
  if (!args.includes('--config')) {
    const config = join(dir, 'crd.json');
    writeFileSync(config, JSON.stringify({ store: { deadline_ms: 5000 } }));
    args.push('--config', config);
  }
  const child = spawn(binary, ['serve', '--port', '0', '--data', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 15000);
    const onData = (chunk) => {
      log += chunk;
      const m = /cryo-crd serving .*port=(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited (${code}):\n${log}`)));
  });
  return {
    base: `http://127.0.0.1:${port}`,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
