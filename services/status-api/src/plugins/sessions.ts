import type { TokenVerifier } from '@rtv/auth';
import type { Keys } from '@rtv/bus';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { SEED_BASE } from '../paths.js';
import { SessionErrorSchema, SessionHistorySchema } from '../schemas.js';

export interface SessionRoutesOptions {
  redis: Redis;
  keys: Keys;
  /** Undefined when no JWT secret, JWKS or API key is configured: the route then refuses every caller. */
  verifier: TokenVerifier | undefined;
}

const SESSION_ID = /^sess_[0-9A-Za-z]{21}$/;
const UNAUTHORIZED = { error: { code: 'unauthorized', message: 'unauthorized' } };
const NOT_FOUND = { error: { code: 'session_not_found', message: 'No such session' } };

/**
 * `GET …/sessions/{id}`: a session's state and its conversation so far, from Redis. The caller authenticates
 * like a client of the gateway's authenticated route: a JWT whose user owns the session, or a server-to-server
 * API key (which may read any session). Another user's session reads as not found, so ids cannot be probed.
 */
export async function sessionRoutes(app: FastifyInstance, opts: SessionRoutesOptions): Promise<void> {
  app.get<{ Params: { id: string } }>(
    `${SEED_BASE}/sessions/:id`,
    {
      schema: {
        summary: 'Session state and history',
        description:
          'The session hash (user, gateway, owner, epoch, configuration) and its conversation items (user text ' +
          'and assistant transcripts, capped at 200). Requires `Authorization: Bearer <JWT or API key>`; a JWT ' +
          'only opens its own user’s sessions.',
        tags: ['sessions'],
        response: { 200: SessionHistorySchema, 401: SessionErrorSchema, 404: SessionErrorSchema },
      },
    },
    async (req, reply) => {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      const auth = token && opts.verifier ? await opts.verifier.verify(token) : undefined;
      if (!auth?.ok) {
        reply.code(401).header('www-authenticate', 'Bearer');
        return UNAUTHORIZED;
      }
      const sid = req.params.id;
      if (!SESSION_ID.test(sid)) {
        reply.code(404);
        return NOT_FOUND;
      }
      const [hash, items] = await Promise.all([
        opts.redis.hgetall(opts.keys.session(sid)),
        opts.redis.lrange(opts.keys.sessionHistory(sid), 0, -1),
      ]);
      if (!hash.user || (auth.via === 'jwt' && hash.user !== auth.userId)) {
        reply.code(404);
        return NOT_FOUND;
      }
      const history = items.flatMap((raw) => {
        try {
          const item = JSON.parse(raw) as { role: string; type: string; text: string; at: number };
          return [{ role: item.role, type: item.type, text: item.text, at: item.at / 1000 }];
        } catch {
          return [];
        }
      });
      return {
        session: {
          id: sid,
          user_id: hash.user,
          gateway: hash.gateway ?? null,
          owner: hash.owner ?? null,
          epoch: Number(hash.epoch ?? 0),
          state: hash.state ?? 'unknown',
          client: hash.client ?? 'attached',
          created_at: Number(hash.created_ms ?? 0) / 1000,
          config: hash.config ? (JSON.parse(hash.config) as Record<string, unknown>) : {},
        },
        history,
      };
    },
  );
}
