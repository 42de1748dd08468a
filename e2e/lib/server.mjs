// Starts a real `gatehouse serve` on a free port with a fresh data directory (and, when
// TEST_DATABASE_URL is a postgres:// URL, a fresh PostgreSQL database), for browser journeys.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A password for the bootstrap administrator, ≥ 12 characters. */
export const BOOTSTRAP_PASSWORD = 'e2e-bootstrap-' + randomBytes(6).toString('hex');

/** Creates a throwaway PostgreSQL database next to `baseUrl`; returns its URL and a dropper. */
function freshPostgres(baseUrl) {
  const name = 'gatehouse_e2e_' + randomBytes(6).toString('hex');
  execFileSync('psql', [baseUrl, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`]);
  const url = new URL(baseUrl);
  url.pathname = '/' + name;
  return {
    url: url.toString(),
    drop() {
      try {
        execFileSync('psql', [baseUrl, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
      } catch {
        // best effort: a leftover test database is harmless
      }
    },
  };
}

/**
 * Starts Gatehouse and resolves once it prints "Gatehouse listening on http://…"; with
 * `prepare`, after running other commands on its fresh data (see below).
 * Returns { url, dataDir, logs(), stop() }.
 */
export async function startServer({ bootstrapPassword = BOOTSTRAP_PASSWORD, extraArgs = [], env = {}, prepare = null } = {}) {
  const bin = process.env.GATEHOUSE_BIN || join(repoRoot, 'target', 'debug', 'gatehouse');
  const staticDir = join(repoRoot, 'dist');
  if (!existsSync(bin)) throw new Error(`no Gatehouse binary at ${bin}: run \`cargo build -p gatehouse\` or set GATEHOUSE_BIN`);
  if (!existsSync(join(staticDir, 'index.html'))) throw new Error(`the SPA is not built in ${staticDir}: run \`trunk build --release\``);

  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const args = ['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir, '--static-dir', staticDir, ...extraArgs];
  let pg = null;
  if ((process.env.TEST_DATABASE_URL || '').startsWith('postgres://')) {
    pg = freshPostgres(process.env.TEST_DATABASE_URL);
    args.push('--database-url', pg.url);
  }

  // `prepare(run)` runs the binary's other commands on the same data before it serves:
  // `run(['audit', 'generate', …])`.
  if (prepare) {
    const dbArgs = pg ? ['--database-url', pg.url] : [];
    prepare((command) => execFileSync(bin, ['--data-dir', dataDir, ...dbArgs, ...command], {
      env: { ...process.env, GATEHOUSE_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
  }

  const child = spawn(bin, args, {
    env: { ...process.env, GATEHOUSE_BOOTSTRAP_PASSWORD: bootstrapPassword, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));

  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`Gatehouse did not start within 60 s:\n${out}`)), 60_000);
    child.stdout.on('data', () => {
      const m = out.match(/Gatehouse listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); res(m[1].replace(/\/$/, '')); }
    });
    exited.then(({ code, signal }) => { clearTimeout(timer); rej(new Error(`Gatehouse exited (${code ?? signal}) before listening:\n${out}`)); });
  });

  return {
    url,
    dataDir,
    logs: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      }
      pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
