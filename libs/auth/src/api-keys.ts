import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type AuthResult, deny } from './result.js';
import { isValidUserId } from './user-id.js';

/**
 * A static API key for a server-to-server client, as configured: the caller's id (which becomes its user
 * id) and the SHA-256 of the key. The key itself is never stored, so a leaked config or environment dump
 * does not leak working credentials.
 *
 * SHA-256 rather than a slow password hash on purpose: keys are 256-bit random strings (see
 * {@link generateApiKey}), so there is no dictionary to attack, and a slow hash would turn every upgrade
 * attempt into a CPU cost an attacker controls.
 */
export interface ApiKeyEntry {
  readonly id: string;
  /** 32-byte SHA-256 digest of the key. */
  readonly hash: Uint8Array;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** The hex SHA-256 of a key, as it goes into `RTV_AUTH_API_KEYS`. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A fresh random key (`rtv_` + 43 base64url characters, 256 bits) and its hash for the config. */
export function generateApiKey(): { key: string; hash: string } {
  const key = `rtv_${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashApiKey(key) };
}

/**
 * Parses `id:hexhash` pairs separated by commas or whitespace (the `RTV_AUTH_API_KEYS` format). Throws on
 * the first bad entry, naming it by position only, so a config error never echoes a secret into a log.
 */
export function parseApiKeys(spec: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const seen = new Set<string>();
  const parts = spec.split(/[\s,]+/).filter((p) => p.length > 0);
  for (const [i, part] of parts.entries()) {
    // The hash is hex, so the last colon separates it even when the id itself contains colons.
    const colon = part.lastIndexOf(':');
    const id = part.slice(0, colon);
    const hex = part.slice(colon + 1);
    if (colon < 1 || !isValidUserId(id) || !HEX_SHA256.test(hex)) {
      throw new Error(`API key entry ${i + 1}: expected <id>:<64 hex chars of SHA-256>`);
    }
    if (seen.has(id)) throw new Error(`API key entry ${i + 1}: duplicate id ${JSON.stringify(id)}`);
    seen.add(id);
    entries.push({ id, hash: Buffer.from(hex, 'hex') });
  }
  return entries;
}

/**
 * Checks presented keys against the configured hashes. Every entry is compared, with a constant-time
 * compare, whatever matched earlier: the time taken depends on the number of keys configured, not on
 * which key (or how much of a digest) an attacker guessed.
 */
export function createApiKeyVerifier(entries: readonly ApiKeyEntry[]): (key: string) => AuthResult {
  for (const e of entries) {
    if (e.hash.byteLength !== 32) throw new Error(`API key ${JSON.stringify(e.id)}: hash must be 32 bytes`);
    if (!isValidUserId(e.id)) throw new Error(`API key id ${JSON.stringify(e.id)} is not a valid user id`);
  }
  const stored = entries.map((e) => ({ id: e.id, hash: Buffer.from(e.hash) }));
  return (key) => {
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let match: string | undefined;
    for (const e of stored) {
      if (timingSafeEqual(digest, e.hash) && match === undefined) match = e.id;
    }
    return match === undefined ? deny('unknown_api_key') : { ok: true, userId: match, via: 'api_key' };
  };
}
