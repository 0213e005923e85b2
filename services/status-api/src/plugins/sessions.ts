import { mayReadHistory, type TokenVerifier } from '@rtv/auth';
import { type HistoryItem, isSessionId, type SessionRecords } from '@rtv/bus';
import { httpError } from '@rtv/protocol';
import type { FastifyInstance } from 'fastify';
import { SEED_BASE } from '../paths.js';
import { SessionErrorSchema, SessionHistorySchema } from '../schemas.js';

export interface SessionRoutesOptions {
  records: SessionRecords;
  /** Undefined when no JWT secret, JWKS or API key is configured: the route then refuses every caller. */
  verifier: TokenVerifier | undefined;
}

/** Says nothing about which check failed (no credential, bad signature, unknown key). */
const UNAUTHORIZED = httpError('unauthorized', 'unauthorized');
const NOT_FOUND = httpError('session_not_found', 'No such session');

/**
 * `GET …/sessions/{id}`: a session's state and its conversation so far, from Redis. The caller authenticates
 * like a client of the gateway's authenticated route, with a JWT or API key whose user owns the session, or
 * an API key with the `history:read` scope (which may read any session). Anonymous sessions belong to
 * `anon:…` ids no credential carries, so only `history:read` opens them. A session the caller may not read
 * answers exactly as one that does not exist (404), so ids cannot be probed, not even by a key that lacks
 * the scope.
 */
export async function sessionRoutes(app: FastifyInstance, opts: SessionRoutesOptions): Promise<void> {
  app.get<{ Params: { id: string } }>(
    `${SEED_BASE}/sessions/:id`,
    {
      schema: {
        summary: 'Session state and history',
        description:
          'The session hash (user, gateway, owner, epoch, configuration) and its conversation items (user text ' +
          'and assistant transcripts, function calls and results; at most 200 items and the worker’s ' +
          'RTV_HISTORY_MAX_BYTES, the oldest dropped first; an item cut to RTV_HISTORY_ITEM_MAX_BYTES carries ' +
          '`truncated: true`). Requires `Authorization: Bearer <JWT or API key>`: a ' +
          'caller opens its own user’s sessions, an API key with the `history:read` scope any session; any other ' +
          'session answers 404 like one that does not exist.',
        tags: ['sessions'],
        response: { 200: SessionHistorySchema, 401: SessionErrorSchema, 404: SessionErrorSchema },
      },
    },
    async (req, reply) => {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      const auth = token && opts.verifier ? await opts.verifier.verify(token) : undefined;
      if (!auth?.ok) {
        reply.code(UNAUTHORIZED.status).header('www-authenticate', 'Bearer');
        return UNAUTHORIZED.payload;
      }
      const sid = req.params.id;
      const record = isSessionId(sid) ? await opts.records.read(sid) : undefined;
      if (!record || !mayReadHistory(auth, record.userId)) {
        reply.code(NOT_FOUND.status);
        return NOT_FOUND.payload;
      }
      return {
        session: {
          id: sid,
          user_id: record.userId,
          gateway: record.gatewayId ?? null,
          owner: record.owner ?? null,
          epoch: record.epoch,
          state: record.state,
          client: record.client,
          created_at: record.createdMs / 1000,
          config: record.config,
        },
        history: record.history.map(historyView),
      };
    },
  );
}

/**
 * One history item in the route's shape (`role`, `type`, `text`, `at`): text turns as stored (the user's
 * typed text or speech transcript, the assistant's reply); a function call as the assistant's
 * `name(arguments)`, its result as the client's (`user`) output text.
 */
function historyView(item: HistoryItem): {
  role: 'user' | 'assistant';
  type: string;
  text: string;
  at: number;
  truncated?: true;
} {
  const at = item.at / 1000;
  const mark = item.truncated ? { truncated: true as const } : {};
  switch (item.type) {
    case 'function_call':
      return { role: 'assistant', type: item.type, text: `${item.name}(${item.arguments})`, at, ...mark };
    case 'function_call_output':
      return { role: 'user', type: item.type, text: item.output, at, ...mark };
    default:
      return { role: item.role, type: item.type, text: item.text, at, ...mark };
  }
}
