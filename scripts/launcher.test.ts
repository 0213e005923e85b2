// Runs the real launcher as a child process inside small throwaway projects: fake tsc/biome/vitest
// binaries for `test`, and tiny HTTP services for `start`.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from './redis.mjs';

const scriptsDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(scriptsDir, '..');
const temps: string[] = [];
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project with the launcher's files and an installed but empty node_modules (npm's hidden lockfile marks it). */
function makeProject(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-launcher-'));
  temps.push(dir);
  mkdirSync(path.join(dir, 'scripts'));
  for (const file of ['launcher.mjs', 'redis.mjs', 'lib']) {
    cpSync(path.join(scriptsDir, file), path.join(dir, 'scripts', file), { recursive: true });
  }
  mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(path.join(dir, 'node_modules', '.package-lock.json'), '{}');
  // TypeScript runs through tsx, resolved from the project's node_modules.
  symlinkSync(path.join(repoRoot, 'node_modules', 'tsx'), path.join(dir, 'node_modules', 'tsx'));
  // Stands in for the check through the services' Redis client (scripts/redis-ready.test.ts tests the real
  // one): logs the REDIS_URL it was given and exits with $FAKE_EXIT_REDIS_READY, saying why on stderr.
  writeFileSync(
    path.join(dir, 'scripts', 'redis-ready.ts'),
    `import { appendFileSync } from 'node:fs';
if (process.env.FAKE_LOG) appendFileSync(process.env.FAKE_LOG, \`redis-ready REDIS_URL=\${process.env.REDIS_URL}\\n\`);
const code = Number(process.env.FAKE_EXIT_REDIS_READY ?? 0);
if (code !== 0) console.error('Redis not ready after 5000 ms (last error: WRONGPASS invalid username-password pair)');
process.exit(code);
`,
  );
  return dir;
}

/** A fake tool that logs its argv and REDIS_URL, then exits with $FAKE_EXIT_<NAME> (default 0). */
function fakeBin(dir: string, name: string, extra = ''): void {
  const file = path.join(dir, 'node_modules', '.bin', name);
  const envName = `FAKE_EXIT_${name.toUpperCase()}`;
  writeFileSync(
    file,
    `#!/bin/sh\necho "${name} $* REDIS_URL=$REDIS_URL" >> "$FAKE_LOG"\n${extra}\nexit \${${envName}:-0}\n`,
  );
  chmodSync(file, 0o755);
}

interface Result {
  code: number | null;
  out: string;
}

function launch(
  dir: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; done: Promise<Result> } {
  const child = spawn(process.execPath, [path.join(dir, 'scripts', 'launcher.mjs'), ...args], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (b) => {
    out += b;
  });
  child.stderr?.on('data', (b) => {
    out += b;
  });
  const done = new Promise<Result>((resolve) => child.once('exit', (code) => resolve({ code, out })));
  return { child, done };
}

describe('launcher test', () => {
  function testProject(): { dir: string; log: string } {
    const dir = makeProject();
    const log = path.join(dir, 'calls.log');
    fakeBin(dir, 'tsc');
    fakeBin(dir, 'biome');
    // Writes a vitest-shaped JSON report where the launcher asked for it.
    fakeBin(
      dir,
      'vitest',
      `for a in "$@"; do case "$a" in --outputFile.json=*) echo '{"numPassedTests":3,"numFailedTests":0,"numPendingTests":1,"numTodoTests":0}' > "\${a#--outputFile.json=}";; esac; done`,
    );
    return { dir, log };
  }

  it('runs typecheck, lint and vitest in order with REDIS_URL and passes extra args to vitest', async () => {
    const { dir, log } = testProject();
    const { code, out } = await launch(dir, ['test', 'libs/protocol'], { FAKE_LOG: log }).done;
    expect(code).toBe(0);
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    // REDIS_URL is reached as the services reach it before anything runs.
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['redis-ready', 'tsc', 'biome', 'vitest']);
    expect(calls[1]).toContain('tsc -p tsconfig.json');
    expect(calls[2]).toContain('biome check .');
    expect(calls[3]).toMatch(/^vitest run .*--reporter=json .*libs\/protocol REDIS_URL=redis:\/\//);
    expect(calls.every((c) => c.endsWith(`REDIS_URL=${process.env.REDIS_URL}`))).toBe(true);
    expect(out).toMatch(/✓ typecheck passed in/);
    expect(out).toMatch(/✓ lint passed in/);
    expect(out).toMatch(/^tests: 3 passed, 0 failed, 1 skipped$/m);
    expect(out).toContain('all 3 steps passed');
  });

  it('stops at the first failing step and names it', async () => {
    const { dir, log } = testProject();
    const { code, out } = await launch(dir, ['test'], { FAKE_LOG: log, FAKE_EXIT_BIOME: '1' }).done;
    expect(code).toBe(1);
    expect(out).toMatch(/✗ lint failed \(exit 1\) after .*biome check --write/);
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['redis-ready', 'tsc', 'biome']);
  });

  it("runs nothing when the services' Redis client cannot use REDIS_URL, and says why in one line", async () => {
    const { dir, log } = testProject();
    const { code, out } = await launch(dir, ['test'], { FAKE_LOG: log, FAKE_EXIT_REDIS_READY: '1' }).done;
    expect(code).toBe(1);
    expect(out).toMatch(
      /the services cannot use REDIS_URL=redis:\/\/\S+ \(RTV_REDIS_MODE=single\): Redis not ready after 5000 ms \(last error: WRONGPASS/,
    );
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['redis-ready']);
  });

  it('returns the failing exit code of vitest', async () => {
    const { dir, log } = testProject();
    const { code, out } = await launch(dir, ['test'], { FAKE_LOG: log, FAKE_EXIT_VITEST: '2' }).done;
    expect(code).toBe(2);
    expect(out).toContain('✗ tests failed (exit 2)');
  });

  it('fails clearly when node_modules and the lockfile are both missing', async () => {
    const dir = makeProject();
    rmSync(path.join(dir, 'node_modules'), { recursive: true });
    const { code, out } = await launch(dir, ['test']).done;
    expect(code).toBe(1);
    expect(out).toContain('dependencies are not installed and there is no package-lock.json');
  });

  // `npm run images` on a clone that was never installed leaves node_modules/.cache behind: that is not an install.
  it('runs npm ci when node_modules holds only a cache, then the steps', async () => {
    const { dir, log } = testProject();
    rmSync(path.join(dir, 'node_modules', '.package-lock.json'));
    mkdirSync(path.join(dir, 'node_modules', '.cache'));
    writeFileSync(path.join(dir, 'package-lock.json'), '{}');
    const fakeNpmDir = path.join(dir, 'fake-path');
    mkdirSync(fakeNpmDir);
    writeFileSync(
      path.join(fakeNpmDir, 'npm'),
      `#!/bin/sh\necho "npm $*" >> "$FAKE_LOG"\necho '{}' > node_modules/.package-lock.json\n`,
    );
    chmodSync(path.join(fakeNpmDir, 'npm'), 0o755);
    const { code, out } = await launch(dir, ['test'], {
      FAKE_LOG: log,
      PATH: `${fakeNpmDir}:${process.env.PATH}`,
    }).done;
    expect(code).toBe(0);
    expect(out).toContain(
      'dependencies are not installed (no node_modules/.package-lock.json): running npm ci',
    );
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['npm', 'redis-ready', 'tsc', 'biome', 'vitest']);
    expect(calls[0]).toBe('npm ci');
  });
});

describe('launcher bench', () => {
  /** A project whose bench/run.ts prints its arguments and REDIS_URL; tsx comes from this repository. */
  function benchProject(): string {
    const dir = makeProject();
    mkdirSync(path.join(dir, 'bench'));
    writeFileSync(
      path.join(dir, 'bench', 'run.ts'),
      "console.log('bench args:', process.argv.slice(2).join(' '), 'REDIS_URL=' + (process.env.REDIS_URL ?? ''));\n",
    );
    return dir;
  }

  it('resolves no Redis for a remote run (--url), and one for a local run', async () => {
    const dir = benchProject();
    // A REDIS_URL nothing answers at: a local run tries it, a remote run never looks.
    const deadPort = await freeLoopbackPort();
    const env = { REDIS_URL: `redis://127.0.0.1:${deadPort}` };
    for (const args of [
      ['--url', 'wss://voice.example.com/api/v1/streaming/realtime', '--token', 't'],
      ['--url=wss://voice.example.com/api/v1/streaming/realtime'],
    ]) {
      const remote = await launch(dir, ['bench', ...args], env).done;
      expect(remote.code, remote.out).toBe(0);
      expect(remote.out).toContain(`bench args: ${args.join(' ')} REDIS_URL=redis://127.0.0.1:${deadPort}`);
      expect(remote.out).not.toMatch(/Redis/);
    }
    const local = await launch(dir, ['bench', '--quick'], {
      REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    }).done;
    expect(local.code, local.out).toBe(0);
    expect(local.out).toMatch(/using Redis from REDIS_URL/);
  });
});

describe('launcher start', () => {
  /** A service that serves 200 on every path at the port in `portVar`, and says goodbye on SIGTERM. */
  function fakeService(dir: string, name: string, portVar: string, extra = ''): void {
    const src = path.join(dir, 'services', name, 'src');
    mkdirSync(src, { recursive: true });
    writeFileSync(
      path.join(src, 'main.ts'),
      `import http from 'node:http';
const port: number = Number(process.env.${portVar});
const server = http.createServer((_req, res) => res.end('ok'));
server.listen(port, '127.0.0.1', () => console.log('${name} listening', port, process.env.REDIS_URL, process.env.RTV_STATUS_URL ?? ''));
process.on('SIGTERM', () => { console.log('${name} got SIGTERM'); process.exit(0); });
${extra}
`,
    );
  }

  async function startProject(extraGateway = '', extraStatus = '') {
    const dir = makeProject();
    fakeService(dir, 'status-api', 'RTV_STATUS_PORT', extraStatus);
    fakeService(dir, 'gateway', 'RTV_GATEWAY_ADMIN_PORT', extraGateway);
    const ports = {
      RTV_STATUS_PORT: String(await freeLoopbackPort()),
      RTV_GATEWAY_PORT: String(await freeLoopbackPort()),
      RTV_GATEWAY_ADMIN_PORT: String(await freeLoopbackPort()),
    };
    return { dir, ports };
  }

  async function waitForOutput(run: { child: ChildProcess }, text: string, getOut: () => string) {
    while (!getOut().includes(text)) {
      if (run.child.exitCode !== null) throw new Error(`launcher exited early:\n${getOut()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('starts services in order, prints the URLs, and stops them all on SIGTERM with exit 0', async () => {
    const { dir, ports } = await startProject();
    const run = launch(dir, ['start'], ports);
    let out = '';
    run.child.stdout?.on('data', (b) => {
      out += b;
    });
    await waitForOutput(run, 'Ctrl-C', () => out);
    expect(out.indexOf('status-api listening')).toBeLessThan(out.indexOf('gateway listening'));
    expect(out).toMatch(/^\[status-api\] status-api listening \d+ redis:\/\//m);
    expect(out).toMatch(/^\[gateway\] +gateway listening .* http:\/\/127\.0\.0\.1:\d+$/m);
    expect(out).toContain(`ws://localhost:${ports.RTV_GATEWAY_PORT}/api/v1/streaming/realtime/{user_id}`);
    expect(out).toContain(`http://localhost:${ports.RTV_GATEWAY_PORT}/api/v1/streaming/realtime/health`);
    expect(out).toContain(`http://localhost:${ports.RTV_GATEWAY_ADMIN_PORT}/metrics`);
    expect(out).toContain('npm run client -- --text "Hello, how are you?"');
    run.child.kill('SIGTERM');
    const { code, out: all } = await run.done;
    expect(code).toBe(0);
    expect(all).toContain('gateway got SIGTERM');
    expect(all).toContain('status-api got SIGTERM');
  });

  it("starts no service when the services' Redis client cannot use REDIS_URL", async () => {
    const { dir, ports } = await startProject();
    const { code, out } = await launch(dir, ['start'], { ...ports, FAKE_EXIT_REDIS_READY: '1' }).done;
    expect(code).toBe(1);
    expect(out).toMatch(/the services cannot use REDIS_URL=\S+ \(RTV_REDIS_MODE=single\): Redis not ready/);
    expect(out).not.toContain('starting status-api');
  });

  it('gives the gateway the laptop defaults explicitly, says so, and says production differs', async () => {
    const { dir, ports } = await startProject(
      "console.log('gateway exposure', process.env.RTV_ALLOW_ANONYMOUS, process.env.RTV_ALLOWED_ORIGINS);",
    );
    // A shell that would make the gateway's own defaults closed: npm start still serves the laptop.
    const shell = {
      ...ports,
      NODE_ENV: 'production',
      RTV_AUTH_JWT_SECRET: 'a-developer-secret-of-at-least-32-bytes',
      RTV_ALLOW_ANONYMOUS: undefined,
      RTV_ALLOWED_ORIGINS: undefined,
    };
    const run = launch(dir, ['start'], shell);
    let out = '';
    run.child.stdout?.on('data', (b) => {
      out += b;
    });
    await waitForOutput(run, 'Ctrl-C', () => out);
    expect(out).toMatch(/^\[gateway\] +gateway exposure true \*$/m);
    expect(out).toContain(
      'laptop defaults: anonymous route on, every browser origin (RTV_ALLOW_ANONYMOUS=true, RTV_ALLOWED_ORIGINS=*)',
    );
    expect(out).toMatch(
      /production is closed by default: NODE_ENV=production or a JWT secret.*anonymous route off/,
    );
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);

    // Values from the environment win and are not called laptop defaults.
    const own = launch(dir, ['start'], {
      ...shell,
      RTV_ALLOW_ANONYMOUS: 'false',
      RTV_ALLOWED_ORIGINS: 'https://app.example',
    });
    let ownOut = '';
    own.child.stdout?.on('data', (b) => {
      ownOut += b;
    });
    await waitForOutput(own, 'Ctrl-C', () => ownOut);
    expect(ownOut).toMatch(/^\[gateway\] +gateway exposure false https:\/\/app\.example$/m);
    expect(ownOut).toContain(
      'RTV_ALLOW_ANONYMOUS=false, RTV_ALLOWED_ORIGINS=https://app.example (from your environment)',
    );
    expect(ownOut).not.toContain('laptop defaults');
    own.child.kill('SIGTERM');
    expect((await own.done).code).toBe(0);
  });

  it('has the status API believe the gateway on loopback, so forwarded status calls count per client', async () => {
    const { dir, ports } = await startProject(
      '',
      "console.log('status trusts', process.env.RTV_TRUSTED_PROXIES);",
    );
    const run = launch(dir, ['start'], { ...ports, RTV_TRUSTED_PROXIES: undefined });
    let out = '';
    run.child.stdout?.on('data', (b) => {
      out += b;
    });
    await waitForOutput(run, 'Ctrl-C', () => out);
    expect(out).toMatch(/^\[status-api\] status trusts 127\.0\.0\.1\/32,::1\/128$/m);
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
  });

  /** The pid the launcher printed for the latest start of `tag`. */
  function pidOf(out: string, tag: string): number {
    const pids = [...out.matchAll(new RegExp(`starting ${tag} (?:again )?\\(pid (\\d+)\\)`, 'g'))];
    const last = pids.at(-1)?.[1];
    if (!last) throw new Error(`no pid printed for ${tag}:\n${out}`);
    return Number(last);
  }

  const isAlive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('restarts a service killed with SIGKILL while the others keep running, and counts restarts', async () => {
    const { dir, ports } = await startProject();
    const run = launch(dir, ['start'], ports);
    let out = '';
    run.child.stdout?.on('data', (b) => {
      out += b;
    });
    run.child.stderr?.on('data', (b) => {
      out += b;
    });
    await waitForOutput(run, 'Ctrl-C', () => out);
    const statusPid = pidOf(out, 'status-api');
    const gatewayPid = pidOf(out, 'gateway');
    process.kill(gatewayPid, 'SIGKILL');
    await waitForOutput(run, 'gateway is back (restart 1)', () => out);
    expect(out).toContain('gateway exited (signal SIGKILL); restart 1 in 0.5 s');
    const newGatewayPid = pidOf(out, 'gateway');
    expect(newGatewayPid).not.toBe(gatewayPid);
    const ready = await fetch(`http://127.0.0.1:${ports.RTV_GATEWAY_ADMIN_PORT}/readyz`);
    expect(ready.status).toBe(200);
    // The others were not touched: same status-api process, never started again.
    expect(isAlive(statusPid)).toBe(true);
    expect(pidOf(out, 'status-api')).toBe(statusPid);
    expect(out).not.toContain('status-api got SIGTERM');

    // The count goes on: a second kill is restart 2.
    process.kill(newGatewayPid, 'SIGKILL');
    await waitForOutput(run, 'gateway is back (restart 2)', () => out);
    run.child.kill('SIGTERM');
    const { code, out: all } = await run.done;
    expect(code).toBe(0);
    expect(all).toContain('status-api got SIGTERM');
    expect(all).toContain('gateway got SIGTERM');
  }, 30_000);

  it('stops everything and shows the last lines when a service crash-loops (5 exits within a minute)', async () => {
    const { dir, ports } = await startProject(
      "for (let i = 1; i <= 25; i++) console.log('gateway line', i);\n" +
        "setTimeout(() => { console.error('gateway crashed'); process.exit(3); }, 1000);",
    );
    const { code, out } = await launch(dir, ['start'], ports).done;
    expect(code).toBe(1);
    for (const [n, delay] of [
      [1, '0.5'],
      [2, '1'],
      [3, '2'],
      [4, '4'],
    ]) {
      expect(out).toContain(`gateway exited (code 3); restart ${n} in ${delay} s`);
    }
    expect(out).not.toContain('restart 5 in');
    expect(out).toContain('gateway exited (code 3) 5 times within 60 s; stopping everything');
    // The ring holds the last 20 lines of the last run: lines 8..25, "listening" and "crashed".
    const tail = out.slice(out.indexOf('last 20 lines of gateway:'));
    expect(tail).toMatch(/^\[gateway\] +gateway line 8$/m);
    expect(tail).toMatch(/^\[gateway\] +gateway line 25$/m);
    expect(tail).toMatch(/^\[gateway\] +gateway crashed$/m);
    expect(tail).not.toMatch(/gateway line 7$/m);
    expect(out).toContain('status-api got SIGTERM');
  }, 60_000);

  it('stops cleanly with exit 0 on SIGTERM while a restart is waiting out its backoff', async () => {
    const { dir, ports } = await startProject(
      "setTimeout(() => { console.error('gateway crashed'); process.exit(3); }, 1000);",
    );
    const run = launch(dir, ['start'], ports);
    let out = '';
    run.child.stdout?.on('data', (b) => {
      out += b;
    });
    run.child.stderr?.on('data', (b) => {
      out += b;
    });
    // Restart 3 waits 2 s: SIGTERM lands inside that wait.
    await waitForOutput(run, 'restart 3 in 2 s', () => out);
    run.child.kill('SIGTERM');
    const { code, out: all } = await run.done;
    expect(code).toBe(0);
    const afterSignal = all.slice(all.indexOf('SIGTERM: stopping services'));
    expect(afterSignal).not.toContain('starting gateway again');
    expect(afterSignal).not.toContain('gateway listening');
    expect(all).toContain('status-api got SIGTERM');
  }, 60_000);
});

describe('launcher help', () => {
  it('lists the commands and the environment it reads', async () => {
    const { code, out } = await launch(makeProject(), ['help']).done;
    expect(code).toBe(0);
    for (const word of [
      'npm start',
      'npm test',
      'npm run bench',
      'npm run client',
      'REDIS_URL',
      'RTV_WORKERS',
    ]) {
      expect(out).toContain(word);
    }
  });

  it('rejects an unknown command', async () => {
    const { code, out } = await launch(makeProject(), ['deploy']).done;
    expect(code).toBe(1);
    expect(out).toContain('unknown command "deploy"');
  });
});
