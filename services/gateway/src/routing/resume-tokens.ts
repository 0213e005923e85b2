import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '@rtv/bus';

/** How the session's connection proved who it is: the anonymous route, or a JWT or API key. */
export type CredentialKind = 'anonymous' | 'jwt' | 'api_key';

/** What a resume token is bound to: exactly one session, one user, one route and one kind of credential. */
export interface ResumeBinding {
  sid: string;
  userId: string;
  route: 'anonymous' | 'authenticated';
  credential: CredentialKind;
}

export interface ResumeTokensOptions {
  /** Longest a token stays valid after it was issued. */
  ttlS: number;
  /** The maximum session length (0 = none): no token outlives its session's maximum end. */
  maxSessionMs: number;
}

/** Why a token does not resume a session (for logs and the metric label; clients get one generic error). */
export type ResumeVerdict =
  | { ok: true; generation: number }
  | { ok: false; reason: 'malformed' | 'expired' | 'mismatch' };

/**
 * Resume tokens: `v2.<expires, unix s>.<attach generation>.<base64url HMAC-SHA256>` over the session id, the
 * user id, the route, the credential kind, the generation and the expiry. The MAC binds a token to one session
 * of one user on one route with one kind of credential, so a session opened with a JWT cannot be resumed on
 * the anonymous route. The generation is the session record's attach generation when the token was issued:
 * the record's attach script accepts a token only for the current generation and bumps it, so each token
 * works once (docs/durability.md, Resume). The expiry is the session's maximum end (creation plus the maximum
 * session length), and never more than `ttlS` after issue.
 *
 * Every gateway must share the secret: it comes from `RTV_RESUME_SECRET`, or else one is generated once and
 * kept in Redis, which all gateways of a deployment share anyway.
 */
export class ResumeTokens {
  constructor(
    private readonly secret: Buffer,
    private readonly opts: ResumeTokensOptions,
  ) {}

  static async create(
    opts: ResumeTokensOptions & { secret?: string; redis: RedisClient; key: string },
  ): Promise<ResumeTokens> {
    const limits = { ttlS: opts.ttlS, maxSessionMs: opts.maxSessionMs };
    if (opts.secret) return new ResumeTokens(Buffer.from(opts.secret, 'utf8'), limits);
    await opts.redis.set(opts.key, randomBytes(32).toString('base64'), 'NX');
    const shared = await opts.redis.get(opts.key);
    if (!shared) throw new Error('could not read the shared resume secret from Redis');
    return new ResumeTokens(Buffer.from(shared, 'base64'), limits);
  }

  /** A token for the session's current attach `generation`; `createdMs` is when the session was created. */
  issue(binding: ResumeBinding, generation: number, createdMs: number, nowMs = Date.now()): string {
    let expMs = nowMs + this.opts.ttlS * 1000;
    if (this.opts.maxSessionMs > 0) expMs = Math.min(expMs, createdMs + this.opts.maxSessionMs);
    // Rounded up: a token must not expire before its session can (the session's end is enforced on its own).
    const exp = Math.ceil(expMs / 1000);
    return `v2.${exp}.${generation}.${this.sign(binding, generation, exp)}`;
  }

  /** The generation the token names when it was issued for `binding` and has not expired; else why not. */
  verify(token: string, binding: ResumeBinding, nowMs = Date.now()): ResumeVerdict {
    const m = /^v2\.(\d{1,12})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return { ok: false, reason: 'malformed' };
    const exp = Number(m[1]);
    const generation = Number(m[2]);
    if (exp * 1000 < nowMs) return { ok: false, reason: 'expired' };
    const expected = Buffer.from(this.sign(binding, generation, exp));
    const given = Buffer.from(m[3]!);
    return expected.length === given.length && timingSafeEqual(expected, given)
      ? { ok: true, generation }
      : { ok: false, reason: 'mismatch' };
  }

  private sign(b: ResumeBinding, generation: number, exp: number): string {
    // Newline-separated: no field can contain a newline (ids are checked at upgrade), so no two different
    // bindings sign the same text.
    const text = `v2\n${b.sid}\n${b.userId}\n${b.route}\n${b.credential}\n${generation}\n${exp}`;
    return createHmac('sha256', this.secret).update(text).digest('base64url');
  }
}
