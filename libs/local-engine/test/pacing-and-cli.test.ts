import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { askText, audioOf, engine, session } from './helpers.js';

/** Wall-clock time of one spoken reply, and the duration of the audio it carried. */
async function timeReply(
  opts: Parameters<typeof engine>[0],
  text = 'Tell me something about the weather at the seaside in early spring.',
): Promise<{ wallMs: number; audioMs: number }> {
  const client = await session(await engine(opts));
  askText(client, text);
  const created = await client.next('response.created');
  const t0 = performance.now();
  const events = await client.through('response.done');
  const wallMs = performance.now() - t0;
  expect(created.type).toBe('response.created');
  return { wallMs, audioMs: audioOf(events).length / 48 };
}

describe('pacing', () => {
  it('streams faster than real time by default, in speech mode too', async () => {
    const { wallMs, audioMs } = await timeReply({ mode: 'speech' });
    expect(audioMs).toBeGreaterThan(2000);
    expect(wallMs).toBeLessThan(audioMs / 4);
  });

  it('paces at playback speed with pace: true (and its alias realtime: true)', async () => {
    for (const opts of [{ pace: true }, { realtime: true }]) {
      const { wallMs, audioMs } = await timeReply(opts, 'Tides?');
      // The first delta goes at once, the last ~100 ms chunk is due at audioMs - 100.
      expect(wallMs, JSON.stringify(opts)).toBeGreaterThan(audioMs - 250);
    }
  }, 30_000);

  it('lets pace win over its alias', async () => {
    const { wallMs, audioMs } = await timeReply({ realtime: true, pace: false });
    expect(wallMs).toBeLessThan(audioMs / 4);
  });
});

describe('cli', () => {
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', cli, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 20_000,
    });

  it('documents every variable in --help, with the new defaults', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    for (const name of [
      'RTV_ENGINE_PORT',
      'RTV_ENGINE_MODE',
      'RTV_ENGINE_PACE',
      'RTV_ENGINE_REALTIME',
      'RTV_ENGINE_ALLOW_BETA',
      'RTV_ENGINE_HANDSHAKE_DELAY_MS',
      'RTV_ENGINE_API_KEY',
      '/openai/v1/realtime',
    ]) {
      expect(help.stdout).toContain(name);
    }
  }, 30_000);

  it('refuses a bad value, naming the variable', () => {
    const bad = run([], { RTV_ENGINE_HANDSHAKE_DELAY_MS: '-5', RTV_ENGINE_PORT: '0' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('RTV_ENGINE_HANDSHAKE_DELAY_MS');
  }, 30_000);
});
