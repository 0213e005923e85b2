import { COMMON_ENV, createRegistry, loadConfig, startAdminServer } from '@rtv/service-kit';
import { describe, expect, it } from 'vitest';

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
