// Throwaway TLS material for tests: a private CA and a certificate it signed for 127.0.0.1 and localhost, made
// with the real openssl, so that Redis servers, sentinels and cluster nodes can speak TLS to clients and to
// each other exactly as a deployment with a private CA does.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** PEM files of a private CA and of a certificate it signed for `127.0.0.1` and `localhost`. */
export interface TlsCertificates {
  /** The directory holding the files. */
  readonly dir: string;
  /** The CA certificate: what a client trusts (RTV_REDIS_TLS_CA_FILE for services). */
  readonly caFile: string;
  /** The CA certificate's PEM text, for clients configured in code. */
  readonly ca: string;
  /**
   * The certificate servers present; it has no extended key usage, so Redis nodes also present it as
   * clients of each other (replication, cluster bus, sentinel links).
   */
  readonly certFile: string;
  readonly keyFile: string;
  /** Removes `dir`. Idempotent. */
  remove(): void;
}

/** Days the throwaway certificates are valid: long enough for any test run, short enough to be useless later. */
const VALID_DAYS = '2';

/** Throws, naming the Debian package, when openssl cannot be run: a missing binary fails rather than skips. */
function requireOpenssl(): void {
  const probe = spawnSync('openssl', ['version'], { stdio: 'ignore', timeout: 10_000 });
  if (probe.error) {
    throw new Error(
      `openssl cannot be run (${probe.error.message}): install the Debian package openssl ` +
        '(apt-get install openssl) so that openssl is on PATH',
    );
  }
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || (err as Error).message}`);
  }
}

/** An EC P-256 key and a request (or, with `-x509`, a self-signed certificate) for `subject`. */
function newKeyArgs(keyFile: string, subject: string): string[] {
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile];
  return [...key, '-subj', subject];
}

/**
 * Makes a fresh CA and a certificate it signed for `127.0.0.1` and `localhost` in `dir` (created if needed; a
 * new temporary directory when not given). Each call makes a different CA, so a second call gives a CA that
 * must not be trusted for the first one's servers. Fails naming the Debian package when openssl is missing.
 */
export function makeTlsCertificates(dir?: string, name = 'rtv-test'): TlsCertificates {
  requireOpenssl();
  const target = dir ?? mkdtempSync(path.join(os.tmpdir(), `${name}-tls-`));
  mkdirSync(target, { recursive: true });
  const file = (suffix: string) => path.join(target, `${name}-${suffix}`);
  openssl(target, [
    'req',
    '-x509',
    ...newKeyArgs(file('ca.key'), `/CN=${name} throwaway CA`),
    ...['-out', file('ca.crt'), '-days', VALID_DAYS],
  ]);
  openssl(target, ['req', ...newKeyArgs(file('server.key'), '/CN=localhost'), '-out', file('server.csr')]);
  writeFileSync(file('san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(target, [
    ...['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key')],
    ...['-CAcreateserial', '-out', file('server.crt'), '-days', VALID_DAYS, '-extfile', file('san.cnf')],
  ]);
  return {
    dir: target,
    caFile: file('ca.crt'),
    ca: readFileSync(file('ca.crt'), 'utf8'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    remove: () => rmSync(target, { recursive: true, force: true, maxRetries: 3 }),
  };
}
