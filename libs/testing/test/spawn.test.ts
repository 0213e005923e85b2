import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort, type SpawnedService, spawnService } from '../src/index.js';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ready-server.ts');

describe('spawnService', () => {
  it('resolves once readyUrl answers 200, passes env, and stop() ends it with SIGTERM', async () => {
    const port = await freePort();
    let service: SpawnedService | undefined;
    try {
      service = await spawnService(
        fixture,
        { PORT: String(port), READY_DELAY_MS: '300', GREETING: 'hello from env' },
        { readyUrl: `http://127.0.0.1:${port}/readyz` },
      );
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('hello from env');
      expect(service.output()).toContain(`fixture starting on ${port}`);
      expect(await service.stop()).toBe(0);
      expect(service.output()).toContain('fixture got SIGTERM');
    } finally {
      await service?.stop('SIGKILL');
    }
  });

  it('rejects with the output when the service exits before it is ready', async () => {
    const port = await freePort();
    const err = await spawnService(
      fixture,
      { PORT: String(port), EXIT_CODE: '3' },
      { readyUrl: `http://127.0.0.1:${port}/readyz` },
    ).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/exited \(3\) before it was ready/);
    expect((err as Error).message).toContain('fixture failing on purpose');
  });

  it('rejects and kills the service when it is not ready in time', async () => {
    const port = await freePort();
    const err = await spawnService(
      fixture,
      { PORT: String(port), READY_DELAY_MS: '60000' },
      { readyUrl: `http://127.0.0.1:${port}/readyz`, timeoutMs: 1500 },
    ).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/was not ready at .* within 1500 ms/);
    // The port is free again once the child is gone.
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});
