import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Resume tokens: `v1.<expires, unix s>.<base64url HMAC-SHA256>` over the session id, the user id and the expiry,
 * so a token resumes exactly one session for exactly one user and only until it expires. Every gateway must
 * share the secret: it comes from `RTV_RESUME_SECRET`, or else one is generated once and kept in Redis, which
 * all gateways of a deployment share anyway.
 */
export class ResumeTokens {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlS: number,
  ) {}

  static async create(opts: {
    secret?: string;
    redis: Redis;
    key: string;
    ttlS: number;
  }): Promise<ResumeTokens> {
    if (opts.secret) return new ResumeTokens(Buffer.from(opts.secret, 'utf8'), opts.ttlS);
    await opts.redis.set(opts.key, randomBytes(32).toString('base64'), 'NX');
    const shared = await opts.redis.get(opts.key);
    if (!shared) throw new Error('could not read the shared resume secret from Redis');
    return new ResumeTokens(Buffer.from(shared, 'base64'), opts.ttlS);
  }

  issue(sid: string, userId: string, nowMs = Date.now()): string {
    const exp = Math.floor(nowMs / 1000) + this.ttlS;
    return `v1.${exp}.${this.sign(sid, userId, exp)}`;
  }

  /** 'ok', or why the token does not resume `sid` for `userId` (for logs; clients get one generic error). */
  verify(
    token: string,
    sid: string,
    userId: string,
    nowMs = Date.now(),
  ): 'ok' | 'malformed' | 'expired' | 'mismatch' {
    const m = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return 'malformed';
    const exp = Number(m[1]);
    if (exp * 1000 < nowMs) return 'expired';
    const expected = Buffer.from(this.sign(sid, userId, exp));
    const given = Buffer.from(m[2]!);
    return expected.length === given.length && timingSafeEqual(expected, given) ? 'ok' : 'mismatch';
  }

  private sign(sid: string, userId: string, exp: number): string {
    return createHmac('sha256', this.secret).update(`v1\n${sid}\n${userId}\n${exp}`).digest('base64url');
  }
}
