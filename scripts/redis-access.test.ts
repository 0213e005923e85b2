// The launcher's Redis check with a password kept apart from REDIS_URL and a private CA, as the services
// read them (REDIS_PASSWORD, RTV_REDIS_TLS_CA_FILE), against real redis-server processes.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeCertificates,
  startRedisServer,
  type TestCertificates,
  type TestRedisServer,
} from '../tests/deploy/support/redis-servers.js';
import { pingRedis, resolveRedis } from './redis.mjs';

const PASSWORD = 'launcher-password-never-printed';

describe('pingRedis and resolveRedis with REDIS_PASSWORD and RTV_REDIS_TLS_CA_FILE', () => {
  let certs: TestCertificates;
  let protectedServer: TestRedisServer;
  let tlsServer: TestRedisServer;

  beforeAll(async () => {
    certs = makeCertificates();
    protectedServer = await startRedisServer(['--requirepass', PASSWORD], { access: { password: PASSWORD } });
    tlsServer = await startRedisServer(
      ['--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile, '--tls-auth-clients', 'no'],
      { tls: true, access: { ca: readFileSync(certs.caFile, 'utf8') } },
    );
  }, 30_000);
  afterAll(async () => {
    await protectedServer?.stop();
    await tlsServer?.stop();
    certs?.remove();
  });

  it('sends REDIS_PASSWORD with AUTH, and says NOAUTH without it, never printing the password', async () => {
    await expect(pingRedis(protectedServer.url, 2000, { password: PASSWORD })).resolves.toBeUndefined();
    await expect(pingRedis(protectedServer.url, 2000)).rejects.toThrow(/NOAUTH/);
    const redis = await resolveRedis({ env: { REDIS_URL: protectedServer.url, REDIS_PASSWORD: PASSWORD } });
    expect(redis.url).toBe(protectedServer.url);
    const err = await resolveRedis({
      env: { REDIS_URL: protectedServer.url, REDIS_PASSWORD: 'wrong-one' },
    }).catch((e: Error) => e);
    expect((err as Error).message).toContain('does not answer PING (WRONGPASS');
    expect((err as Error).message).not.toContain('wrong-one');
  });

  it('trusts the CA of RTV_REDIS_TLS_CA_FILE for rediss://, and nothing else', async () => {
    const ca = readFileSync(certs.caFile, 'utf8');
    await expect(pingRedis(tlsServer.url, 2000, { ca })).resolves.toBeUndefined();
    await expect(pingRedis(tlsServer.url, 2000)).rejects.toThrow('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const redis = await resolveRedis({
      env: { REDIS_URL: tlsServer.url, RTV_REDIS_TLS_CA_FILE: certs.caFile },
    });
    expect(redis.url).toBe(tlsServer.url);
    await expect(
      resolveRedis({ env: { REDIS_URL: tlsServer.url, RTV_REDIS_TLS_CA_FILE: `${certs.dir}/none.crt` } }),
    ).rejects.toThrow(`RTV_REDIS_TLS_CA_FILE=${certs.dir}/none.crt: cannot read it (ENOENT)`);
  });
});
