import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type AuthResult, deny } from './result.js';
import { DEFAULT_API_KEY_SCOPES, isScope, type Scope } from './scopes.js';
import { ANONYMOUS_USER_PREFIX, isAnonymousUserId, isValidUserId } from './user-id.js';

/**
 * A static API key for a server-to-server client, as configured: the caller's id (which becomes its user
 * id), the SHA-256 of the key, and what the key may do. The key itself is never stored, so a leaked config
 * or environment dump does not leak working credentials.
 *
 * SHA-256 rather than a slow password hash on purpose: keys are 256-bit random strings (see
 * {@link generateApiKey}), so there is no dictionary to attack, and a slow hash would turn every upgrade
 * attempt into a CPU cost an attacker controls.
 */
export interface ApiKeyEntry {
  readonly id: string;
  /** 32-byte SHA-256 digest of the key. */
  readonly hash: Uint8Array;
  /** What the key may do; {@link DEFAULT_API_KEY_SCOPES} (`sessions:connect`) when not given. */
  readonly scopes?: readonly Scope[];
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** Separates the scopes of one `RTV_AUTH_API_KEYS` entry (`…:history:read+sessions:connect`). */
export const API_KEY_SCOPE_SEPARATOR = '+';

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
 * The `RTV_AUTH_API_KEYS` entry for a key: `id:hexhash`, then `:scope+scope` unless the scopes are the
 * default ones.
 */
export function formatApiKeyEntry(
  id: string,
  hash: string,
  scopes: readonly Scope[] = DEFAULT_API_KEY_SCOPES,
): string {
  const isDefault =
    scopes.length === DEFAULT_API_KEY_SCOPES.length &&
    scopes.every((s) => DEFAULT_API_KEY_SCOPES.includes(s));
  return isDefault ? `${id}:${hash}` : `${id}:${hash}:${scopes.join(API_KEY_SCOPE_SEPARATOR)}`;
}

/**
 * Parses the `RTV_AUTH_API_KEYS` format: entries separated by commas or whitespace, each
 * `id:hexhash` or `id:hexhash:scope+scope` (scopes from `SCOPES`; none given means `sessions:connect`
 * only). Ids and scopes both contain colons, so the hash is found as the last colon-separated field of
 * exactly 64 hex characters: no scope is one, and whatever precedes it is the id. Throws on the first bad
 * entry, naming it by position only, so a config error never echoes a secret into a log.
 */
export function parseApiKeys(spec: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const seen = new Set<string>();
  const parts = spec.split(/[\s,]+/).filter((p) => p.length > 0);
  for (const [i, part] of parts.entries()) {
    const entry = parseApiKeyEntry(part, i + 1);
    if (seen.has(entry.id))
      throw new Error(`API key entry ${i + 1}: duplicate id ${JSON.stringify(entry.id)}`);
    seen.add(entry.id);
    entries.push(entry);
  }
  return entries;
}

/** One entry of {@link parseApiKeys}; `position` is 1-based, for the error message. */
function parseApiKeyEntry(part: string, position: number): ApiKeyEntry {
  const fields = part.split(':');
  const at = fields.findLastIndex((f) => HEX_SHA256.test(f));
  const id = fields.slice(0, Math.max(at, 0)).join(':');
  if (at < 1 || !isValidUserId(id)) {
    throw new Error(`API key entry ${position}: expected <id>:<64 hex chars of SHA-256>[:<scope>+<scope>]`);
  }
  if (isAnonymousUserId(id)) {
    throw new Error(
      `API key entry ${position}: the id must not start with ${JSON.stringify(ANONYMOUS_USER_PREFIX)} (reserved for anonymous connections)`,
    );
  }
  const hash = Buffer.from(fields[at]!, 'hex');
  if (at === fields.length - 1) return { id, hash, scopes: DEFAULT_API_KEY_SCOPES };
  const scopes = new Set<Scope>();
  for (const word of fields
    .slice(at + 1)
    .join(':')
    .split(API_KEY_SCOPE_SEPARATOR)) {
    if (!isScope(word)) {
      // Scope words are not secret, but the text after the hash may be a key pasted by mistake.
      throw new Error(
        `API key entry ${position}: unknown scope; expected scopes from sessions:connect, history:read joined by +`,
      );
    }
    scopes.add(word);
  }
  return { id, hash, scopes: [...scopes] };
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
    if (isAnonymousUserId(e.id))
      throw new Error(`API key id ${JSON.stringify(e.id)} is in the anon: namespace`);
    if (e.scopes?.some((s) => !isScope(s))) throw new Error(`API key ${JSON.stringify(e.id)}: unknown scope`);
  }
  const stored = entries.map((e) => ({
    id: e.id,
    hash: Buffer.from(e.hash),
    scopes: Object.freeze([...(e.scopes ?? DEFAULT_API_KEY_SCOPES)]),
  }));
  return (key) => {
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let match: (typeof stored)[number] | undefined;
    for (const e of stored) {
      if (timingSafeEqual(digest, e.hash) && match === undefined) match = e;
    }
    return match === undefined
      ? deny('unknown_api_key')
      : { ok: true, userId: match.id, via: 'api_key', scopes: match.scopes };
  };
}
