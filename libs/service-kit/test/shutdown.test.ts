import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMON_ENV, loadConfig, shutdownOptionsFrom } from '@rtv/service-kit';
import { runServiceToExit } from '@rtv/testing';
import { describe, expect, it } from 'vitest';

// The drain limit reaches a real process: RTV_SHUTDOWN_TIMEOUT_S, read with the rest of the config, ends a
// shutdown whose stop() never finishes with exit 1. No timing is asserted (the machine is shared).

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(here, '../../..');
const FIXTURE = path.join(here, 'fixtures/stuck-service.ts');

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', FIXTURE], {
    cwd: REPO_ROOT,
    env: { ...process.env, RTV_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function untilOutput(run: Run, text: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!run.output().includes(text)) {
    if (run.child.exitCode !== null) throw new Error(`exited early:\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('RTV_SHUTDOWN_TIMEOUT_S', () => {
  it('defaults to 30 s and becomes the shutdown timeout in milliseconds', () => {
    expect(shutdownOptionsFrom(loadConfig('svc', COMMON_ENV, {}))).toEqual({ timeoutMs: 30_000 });
    expect(shutdownOptionsFrom(loadConfig('svc', COMMON_ENV, { RTV_SHUTDOWN_TIMEOUT_S: '1.5' }))).toEqual({
      timeoutMs: 1500,
    });
  });

  it('ends a drain that never finishes with exit 1 once the configured timeout passes', async () => {
    const run = start({ RTV_SHUTDOWN_TIMEOUT_S: '1' });
    try {
      await untilOutput(run, 'ready');
      run.child.kill('SIGTERM');
      const code = await Promise.race([
        run.exited,
        // Far above 1 s: only a process that ignores the limit (the 30 s default) gets here.
        new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000)),
      ]);
      expect(code, run.output()).toBe(1);
      expect(run.output()).toContain('shutdown timed out');
      expect(run.output()).toContain('"timeoutMs":1000');
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 90_000);

  it('refuses a value that is not a positive number at start, naming the variable', async () => {
    for (const bad of ['0', '-5', 'soon']) {
      const run = start({ RTV_SHUTDOWN_TIMEOUT_S: bad });
      const code = await run.exited;
      expect(code, run.output()).toBe(2);
      expect(run.output()).toContain(`RTV_SHUTDOWN_TIMEOUT_S=${JSON.stringify(bad)}`);
      expect(run.output()).not.toContain('ready');
    }
  }, 120_000);
});

describe('RTV_SHUTDOWN_TIMEOUT_S in the services', () => {
  it('is refused at start by the gateway, the session worker and the status API alike, naming it', async () => {
    for (const entry of [
      'services/gateway/src/main.ts',
      'services/session-worker/src/main.ts',
      'services/status-api/src/main.ts',
    ]) {
      const { code, output } = await runServiceToExit(entry, { RTV_SHUTDOWN_TIMEOUT_S: 'soon' }, 60_000);
      expect(code, `${entry}\n${output}`).toBe(2);
      expect(output, entry).toContain('RTV_SHUTDOWN_TIMEOUT_S="soon": expected a number');
    }
  }, 120_000);
});
