// Throwaway redis-server processes configured as a deployment would run them (TLS with a private CA, a
// required password), and the certificates they need, made with the real openssl.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@rtv/testing';
import { Redis } from 'ioredis';

/** A private CA and a server certificate it signed, for localhost and 127.0.0.1, as PEM files. */
export interface TestCertificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A second CA that signed nothing here: trusting it alone must fail. */
  otherCaFile: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function selfSignedCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-redis-tls-'));
  selfSignedCa(dir, 'rtv-test-ca');
  selfSignedCa(dir, 'rtv-other-ca');
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'rtv-test-ca.crt',
    '-CAkey',
    'rtv-test-ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.cnf',
  ]);
  return {
    dir,
    caFile: path.join(dir, 'rtv-test-ca.crt'),
    certFile: path.join(dir, 'server.crt'),
    keyFile: path.join(dir, 'server.key'),
    otherCaFile: path.join(dir, 'rtv-other-ca.crt'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TestRedisServer {
  /** redis:// or rediss:// URL of the server, without credentials. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** How the readiness PING logs in: an ACL user, a password, the CA of a TLS port. */
export interface RedisAccess {
  user?: string;
  password?: string;
  ca?: string;
}

/** PINGs once, straight with ioredis (not the factory under test), with no retry. */
async function pingOnce(url: string, access: RedisAccess): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...(access.user ? { username: access.user } : {}),
    ...(access.password ? { password: access.password } : {}),
    ...(access.ca ? { tls: { ca: access.ca } } : {}),
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}

/**
 * Starts `redis-server` on a free loopback port with `args` added, ready once PING (with `access`) answers.
 * `tls`: the port is a TLS port and the plain one is off.
 */
export async function startRedisServer(
  args: string[],
  { tls = false, access = {} }: { tls?: boolean; access?: RedisAccess } = {},
): Promise<TestRedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-redis-srv-'));
  const portArgs = tls ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)];
  const child: ChildProcess = spawn(
    'redis-server',
    [...portArgs, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await pingOnce(url, access);
      return { url, port, stop };
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server ${url} did not start (${(err as Error).message}): ${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
