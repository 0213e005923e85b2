import { readFileSync } from 'node:fs';
import { COMMON_ENV, createRegistry, loadConfig, startAdminServer } from '@rtv/service-kit';
import type { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildVersion, UNKNOWN_VERSION } from '../src/admin-server.js';

const options = { port: 0, registry: createRegistry(), ready: () => true };

describe('startAdminServer', () => {
  it('binds loopback unless told otherwise, and the host it is given', async () => {
    const loopback = await startAdminServer(options);
    try {
      expect(loopback.host).toBe('127.0.0.1');
      const res = await fetch(`http://127.0.0.1:${loopback.port}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      await loopback.close();
    }
    const all = await startAdminServer({ ...options, host: '0.0.0.0' });
    try {
      expect(all.host).toBe('0.0.0.0');
      expect((await fetch(`http://127.0.0.1:${all.port}/readyz`)).status).toBe(200);
    } finally {
      await all.close();
    }
  });

  it('RTV_ADMIN_HOST defaults to loopback and is checked', () => {
    expect(loadConfig('svc', COMMON_ENV, {}).RTV_ADMIN_HOST).toBe('127.0.0.1');
    expect(loadConfig('svc', COMMON_ENV, { RTV_ADMIN_HOST: '0.0.0.0' }).RTV_ADMIN_HOST).toBe('0.0.0.0');
    expect(loadConfig('svc', COMMON_ENV, { RTV_ADMIN_HOST: '::' }).RTV_ADMIN_HOST).toBe('::');
    expect(() => loadConfig('svc', COMMON_ENV, { RTV_ADMIN_HOST: 'http://0.0.0.0/' })).toThrow(
      /RTV_ADMIN_HOST/,
    );
  });
});

describe('createRegistry', () => {
  const packageJson = new URL('../package.json', import.meta.url);
  const buildInfo = async (registry: Registry) =>
    (await registry.getSingleMetric('rtv_build_info')?.get())?.values ?? [];

  it('reports rtv_build_info = 1 with the package version and the Node version, under the const labels', async () => {
    const registry = createRegistry({ rtv_service: 'gateway' }, { packageJson, env: {} });
    const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
    expect(await buildInfo(registry)).toEqual([
      { value: 1, labels: { version, node_version: process.version } },
    ]);
    expect(await registry.metrics()).toContain(
      `rtv_build_info{version="${version}",node_version="${process.version}",rtv_service="gateway"} 1`,
    );
  });

  it('prefers RTV_VERSION over the package version', async () => {
    const registry = createRegistry({}, { packageJson, env: { RTV_VERSION: ' v1.4.2-3-gabc123 ' } });
    expect((await buildInfo(registry))[0]?.labels.version).toBe('v1.4.2-3-gabc123');
  });

  it('reports unknown rather than fail when no version can be read', () => {
    expect(buildVersion({ env: {} })).toBe(UNKNOWN_VERSION);
    expect(buildVersion({ env: {}, packageJson: new URL('./no-such-package.json', import.meta.url) })).toBe(
      UNKNOWN_VERSION,
    );
    expect(buildVersion({ env: { RTV_VERSION: '' }, packageJson })).not.toBe(UNKNOWN_VERSION);
  });
});
