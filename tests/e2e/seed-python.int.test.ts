// The founding spec's own Python example, run unmodified (but for the URI) with Python's `websockets`
// against the stack. It prints every message and never exits on its own, so the test reads its output
// until the turn is done and then stops it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './helpers/stack.js';

/** A Python 3 that can import `websockets` (Debian: python3-websockets, which .ci/run installs). */
function findPython(): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(candidate, ['-c', 'import websockets'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const python = findPython();
if (!python) {
  const why = 'no python3 with the websockets module (apt-get install python3-websockets)';
  if (process.env.CI) throw new Error(`CI must run the seed's Python example: ${why}`);
  console.warn(`seed Python example not run: ${why}`);
}

describe.runIf(python)("the seed's Python example", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('gets session.update, response.delta and response.done back', async () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const source = readFileSync(path.join(here, 'fixtures/seed_example.py'), 'utf8');
    const port = new URL(stack.wsUrl('x')).port;
    expect(source).toContain('ws://localhost:8000/api/v1/streaming/realtime/test_user');
    const script = path.join(mkdtempSync(path.join(tmpdir(), 'rtv-seed-')), 'seed_example.py');
    writeFileSync(script, source.replace('ws://localhost:8000', `ws://127.0.0.1:${port}`));
    const child = spawn(python!, ['-u', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await waitFor(() => out.includes("'type': 'response.done'"), {
        timeoutMs: 20_000,
        message: 'the Python client printed response.done',
      });
    } finally {
      child.kill('SIGKILL');
    }
    const types = [...out.matchAll(/^Received: \{'type': '([a-z_.]+)'/gm)].map((m) => m[1]);
    expect(types[0]).toBe('session.created');
    expect(types).toContain('session.update');
    expect(types).toContain('response.delta');
    expect(types.indexOf('response.done')).toBeGreaterThan(types.indexOf('response.delta'));
    expect(types).not.toContain('error');
  }, 30_000);
});
