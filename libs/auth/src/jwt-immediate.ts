import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';
import type { AuthFailureReason } from './result.js';

/**
 * JWT checks that finish in the calling turn, for the gateway's upgrade handler: uWS completes an upgrade
 * safely only inside that handler (an upgrade finished later, inside a cork, can be closed by uWS right after
 * the 101). The same rules as `jose.jwtVerify` with the verifier's options, on node:crypto's synchronous
 * primitives. Whatever these checks cannot settle exactly as jose would (a `crit` or `b64` header, a segment
 * that is not canonical base64url, a key set that must be fetched or holds no single matching key) is left to
 * jose: the answer is then `undefined`. The verifier's tests run every token through both paths.
 */

/** The claim rules of the verifier's options. */
export interface ClaimRules {
  issuer: readonly string[] | undefined;
  audience: readonly string[] | undefined;
  clockSkewMs: number;
}

/** A verified claims set, or why the token is refused; `undefined`: ask jose. */
export type ImmediateVerdict =
  | { payload: Record<string, unknown> }
  | { reason: AuthFailureReason }
  | undefined;

/** A key as a JSON Web Key Set lists it (the members the selection reads). */
export interface SetKey {
  kty?: unknown;
  kid?: unknown;
  alg?: unknown;
  use?: unknown;
  key_ops?: unknown;
  ext?: unknown;
  crv?: unknown;
  [member: string]: unknown;
}

interface CompactJws {
  header: Record<string, unknown>;
  signingInput: Buffer;
  payload: Buffer;
  signature: Buffer;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** What each key-set algorithm needs of a key: its type, and for EC its curve. */
const SET_ALGORITHMS: Record<string, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
};

/** An HS256 token checked against `secret`. */
export function checkHs256(
  token: string,
  secret: Uint8Array,
  rules: ClaimRules,
  nowMs: number,
): ImmediateVerdict {
  const jws = splitCompact(token);
  if (jws?.header.alg !== 'HS256') return undefined;
  const expected = createHmac('sha256', secret).update(jws.signingInput).digest();
  if (expected.length !== jws.signature.length || !timingSafeEqual(expected, jws.signature)) {
    return { reason: 'bad_signature' };
  }
  return checkClaims(jws.payload, rules, nowMs);
}

/**
 * An RS256/ES256 token checked against the one key of `keys` that jose would select for it. `keys` is the
 * cached set; the caller passes none when it is missing or stale.
 */
export function checkWithKeySet(
  token: string,
  keys: readonly SetKey[],
  keyObjects: KeyObjectCache,
  rules: ClaimRules,
  nowMs: number,
): ImmediateVerdict {
  const jws = splitCompact(token);
  if (!jws) return undefined;
  const { alg, kid } = jws.header;
  const wanted = typeof alg === 'string' ? SET_ALGORITHMS[alg] : undefined;
  if (!wanted || (kid !== undefined && typeof kid !== 'string')) return undefined;
  const candidates = keys.filter((key) => usableFor(key, alg as string, wanted, kid as string | undefined));
  if (candidates.length !== 1 || 'd' in candidates[0]!) return undefined;
  const key = keyObjects.get(candidates[0]!);
  if (!key) return undefined;
  if (alg === 'RS256' && !((key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048)) return undefined;
  let signed: boolean;
  try {
    signed =
      alg === 'ES256'
        ? verify('sha256', jws.signingInput, { key, dsaEncoding: 'ieee-p1363' }, jws.signature)
        : verify('sha256', jws.signingInput, key, jws.signature);
  } catch {
    return undefined;
  }
  if (!signed) return { reason: 'bad_signature' };
  return checkClaims(jws.payload, rules, nowMs);
}

/** Public keys imported from key-set members, kept while the set lists them. */
export class KeyObjectCache {
  private readonly keys = new Map<string, KeyObject | null>();

  get(jwk: SetKey): KeyObject | undefined {
    const id = JSON.stringify(jwk);
    let key = this.keys.get(id);
    if (key === undefined) {
      try {
        key = createPublicKey({ key: jwk as never, format: 'jwk' });
      } catch {
        key = null;
      }
      // A set holds a handful of keys; rotations add a few more. Anything beyond is forgotten wholesale.
      if (this.keys.size >= 64) this.keys.clear();
      this.keys.set(id, key);
    }
    return key ?? undefined;
  }
}

/** jose's key selection for a set: the key type (and curve), kid, alg, use and key_ops must all fit. */
function usableFor(
  key: SetKey,
  alg: string,
  wanted: { kty: string; crv?: string },
  kid: string | undefined,
): boolean {
  const ops = key.key_ops;
  return (
    (key.ext === undefined || typeof key.ext === 'boolean') &&
    (ops === undefined ||
      (Array.isArray(ops) &&
        ops.every((op, i) => typeof op === 'string' && ops.indexOf(op) === i) &&
        ops.includes('verify'))) &&
    key.kty === wanted.kty &&
    (kid === undefined || kid === key.kid) &&
    (key.alg === undefined || key.alg === alg) &&
    (key.use === undefined || key.use === 'sig') &&
    (wanted.crv === undefined || key.crv === wanted.crv)
  );
}

/** The three segments decoded; `undefined` for anything jose might read differently. */
function splitCompact(token: string): CompactJws | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [head, body, sig] = parts as [string, string, string];
  if (![head, body, sig].every(isCanonicalBase64url)) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(strictUtf8.decode(Buffer.from(head, 'base64url')));
  } catch {
    return undefined;
  }
  if (!isPlainObject(header) || 'crit' in header || 'b64' in header) return undefined;
  return {
    header,
    signingInput: Buffer.from(`${head}.${body}`, 'ascii'),
    payload: Buffer.from(body, 'base64url'),
    signature: Buffer.from(sig, 'base64url'),
  };
}

/** Unpadded base64url whose last character carries no stray bits, so decoding is exact. */
function isCanonicalBase64url(segment: string): boolean {
  if (!/^[A-Za-z0-9_-]*$/.test(segment) || segment.length % 4 === 1) return false;
  return Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * jose's claims-set validation with `requiredClaims: ['exp']`, the issuer and audience lists and the clock
 * tolerance, in jose's order, each failure mapped to the reason the verifier gives jose's error.
 */
function checkClaims(payload: Buffer, rules: ClaimRules, nowMs: number): ImmediateVerdict {
  let claims: unknown;
  try {
    claims = JSON.parse(strictUtf8.decode(payload));
  } catch {
    return { reason: 'malformed' };
  }
  if (!isPlainObject(claims)) return { reason: 'malformed' };
  const { issuer, audience } = rules;
  // Presence, in jose's order: iss, then aud, then exp.
  if (issuer && !Object.hasOwn(claims, 'iss')) return { reason: 'bad_issuer' };
  if (audience && !Object.hasOwn(claims, 'aud')) return { reason: 'bad_audience' };
  if (!Object.hasOwn(claims, 'exp')) return { reason: 'bad_claims' };
  if (issuer && !issuer.includes(claims.iss as string)) return { reason: 'bad_issuer' };
  if (audience && !audienceMatches(claims.aud, audience)) return { reason: 'bad_audience' };
  const tolerance = rules.clockSkewMs / 1000;
  const now = Math.floor(nowMs / 1000);
  if (claims.iat !== undefined && typeof claims.iat !== 'number') return { reason: 'bad_claims' };
  const { nbf, exp } = claims;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance))
    return { reason: 'not_yet_valid' };
  if (typeof exp !== 'number') return { reason: 'bad_claims' };
  if (exp <= now - tolerance) return { reason: 'expired' };
  return { payload: claims };
}

function audienceMatches(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === 'string') return accepted.includes(aud);
  return Array.isArray(aud) && accepted.some((a) => aud.includes(a));
}
