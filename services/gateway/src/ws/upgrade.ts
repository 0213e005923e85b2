import type { HttpRequest, HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import {
  type AuthSettings,
  extractCredentials,
  isOriginAllowed,
  isValidUserId,
  type NewConnectionLimiter,
  selectSubprotocol,
  type TokenVerifier,
  type UserConnectionLimiter,
} from '@rtv/auth';
import { randomId } from '@rtv/bus';
import { type Logger, withTimeout } from '@rtv/service-kit';
import type { GatewayMetrics } from '../metrics.js';
import { ClientSession, type ClientSessionLimits, type SocketData } from '../routing/client-session.js';

const SESSION_ID = /^sess_[0-9A-Za-z]{21}$/;

export interface UpgradeDeps {
  auth: AuthSettings;
  /** Undefined when no JWT secret, JWKS or API key is configured: the authenticated route then refuses all. */
  verifier: TokenVerifier | undefined;
  userLimiter: UserConnectionLimiter;
  ipLimiter: NewConnectionLimiter;
  metrics: GatewayMetrics;
  log: Logger;
  sessionLimits: ClientSessionLimits;
  /** False while Redis is unreachable: the per-user count cannot be taken, so upgrades end in 1013. */
  redisReady: () => boolean;
  /**
   * Added to a JWT's `exp` to get when its connection is ended (the verifier's clock-skew allowance);
   * undefined: connections are not ended at token expiry.
   */
  tokenExpiryGraceMs: number | undefined;
}

/** The per-user count must answer quickly; an upgrade never waits on a Redis that is not there. */
const ACQUIRE_TIMEOUT_MS = 2000;

/** What is copied out of the request before anything asynchronous happens (the request dies on return). */
interface UpgradeRequest {
  secKey: string;
  secProtocol: string;
  secExtensions: string;
  origin: string;
  authorization: string;
  query: string;
  pathUser: string | undefined;
  address: string;
}

/**
 * Decides every upgrade (DESIGN §4.6, docs/security.md): per-address rate, origin allowlist, the anonymous
 * route switch, credentials (header or the browser subprotocol form; query tokens only when enabled),
 * token verification, then the cluster-wide per-user cap. Refusals before the handshake carry no detail
 * beyond the status; a user over the cap is upgraded and then closed with 4429 so browsers can see why.
 */
export function handleUpgrade(
  deps: UpgradeDeps,
  route: 'anonymous' | 'authenticated',
  res: HttpResponse,
  req: HttpRequest,
  context: us_socket_context_t,
): void {
  const request: UpgradeRequest = {
    secKey: req.getHeader('sec-websocket-key'),
    secProtocol: req.getHeader('sec-websocket-protocol'),
    secExtensions: req.getHeader('sec-websocket-extensions'),
    origin: req.getHeader('origin'),
    authorization: req.getHeader('authorization'),
    query: req.getQuery() ?? '',
    pathUser: route === 'anonymous' ? decodePathUser(req.getParameter(0)) : undefined,
    address: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
  const { metrics, auth } = deps;
  const refuse = (
    status: string,
    reason: string,
    body = '{"error":{"code":"unauthorized","message":"unauthorized"}}',
  ) => {
    metrics.upgradesRejected.inc({ reason });
    res.cork(() => res.writeStatus(status).writeHeader('content-type', 'application/json').end(body));
  };

  if (!deps.ipLimiter.tryAcquire(request.address, Date.now())) {
    metrics.limitRejections.inc({ kind: 'new_connections_per_ip' });
    refuse(
      '429 Too Many Requests',
      'ip_rate',
      '{"error":{"code":"rate_limited","message":"Too many new connections"}}',
    );
    return;
  }
  if (!isOriginAllowed(request.origin === '' ? undefined : request.origin, auth.origins)) {
    refuse('403 Forbidden', 'origin', '{"error":{"code":"forbidden","message":"forbidden"}}');
    return;
  }
  if (route === 'anonymous') {
    if (!auth.allowAnonymous) {
      refuse('403 Forbidden', 'anonymous_disabled', '{"error":{"code":"forbidden","message":"forbidden"}}');
      return;
    }
    if (request.pathUser === undefined) {
      refuse(
        '400 Bad Request',
        'invalid_user_id',
        '{"error":{"code":"invalid_message","field":"user_id","message":"user_id must be 1-128 characters of A-Z a-z 0-9 _ . @ : -"}}',
      );
      return;
    }
    // Nothing here needs to wait, so the upgrade completes in this call (uWS's synchronous path); the
    // per-user slot is taken right after open. An asynchronous upgrade inside a cork can make uWS close the
    // fresh socket (uWebSockets issue #1928), so it is kept to the route that must verify a token first.
    const data = socketData(deps, route, request, request.pathUser);
    data.slotPending = true;
    res.upgrade<SocketData>(
      data,
      request.secKey,
      selectSubprotocol(request.secProtocol),
      request.secExtensions,
      context,
    );
    return;
  }

  const credentials = extractCredentials(
    { authorization: request.authorization, secWebSocketProtocol: request.secProtocol, query: request.query },
    auth.extract,
  );
  if (!credentials.ok) {
    refuse('401 Unauthorized', `credentials_${credentials.reason}`);
    return;
  }
  if (!deps.verifier) {
    refuse('401 Unauthorized', 'not_configured');
    return;
  }
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  deps.verifier.verify(credentials.token).then(
    (result) => {
      if (aborted) return;
      if (!result.ok) {
        refuse(result.status === 403 ? '403 Forbidden' : '401 Unauthorized', result.reason);
        return;
      }
      const expiresAt =
        result.expiresAt !== undefined && deps.tokenExpiryGraceMs !== undefined
          ? result.expiresAt + deps.tokenExpiryGraceMs
          : 0;
      void admit(
        deps,
        route,
        request,
        result.userId,
        expiresAt,
        credentials.echoProtocol,
        res,
        context,
        () => aborted,
      );
    },
    (err: Error) => {
      deps.log.warn({ err: err.message }, 'token verification failed');
      if (!aborted)
        refuse(
          '503 Service Unavailable',
          'verifier_error',
          '{"error":{"code":"service_unavailable","message":"try again later"}}',
        );
    },
  );
}

/** The socket's user data: a new session, or the resume request it carries. */
function socketData(
  deps: UpgradeDeps,
  route: 'anonymous' | 'authenticated',
  request: UpgradeRequest,
  userId: string,
): SocketData {
  const query = new URLSearchParams(request.query);
  const resumeSid = query.get('resume');
  const sid = resumeSid !== null && SESSION_ID.test(resumeSid) ? resumeSid : randomId('sess_');
  const session = new ClientSession(sid, userId, route, Date.now(), deps.sessionLimits);
  session.wantSeq = query.get('seq') === '1';
  const data: SocketData = { session };
  if (resumeSid !== null) {
    const lastSeq = Number(query.get('last_seq') ?? '');
    data.resume = {
      valid: SESSION_ID.test(resumeSid),
      token: query.get('resume_token') ?? '',
      lastSeq: Number.isSafeInteger(lastSeq) && lastSeq > 0 ? lastSeq : undefined,
    };
  }
  return data;
}

/**
 * Takes the user's cluster-wide connection slot for `data.session`; on refusal sets `data.refuse` (4429 over
 * the cap, 1013 when the count cannot be taken). Never throws.
 */
export async function takeUserSlot(deps: UpgradeDeps, data: SocketData): Promise<void> {
  const { session } = data;
  try {
    if (!deps.redisReady()) throw new Error('Redis not ready');
    const slot = await withTimeout(deps.userLimiter.acquire(session.userId), ACQUIRE_TIMEOUT_MS);
    if (slot.ok) session.leaseId = slot.leaseId;
    else {
      deps.metrics.limitRejections.inc({ kind: 'connections_per_user' });
      data.refuse = { code: 4429, message: `Too many connections for this user (limit ${slot.limit})` };
    }
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'per-user connection count unavailable');
    data.refuse = { code: 1013, message: 'Service unavailable, retry later' };
  }
}

/**
 * Takes the user's connection slot, then upgrades (or upgrades to refuse with 4429 / 1013). The caller has
 * registered `onAborted`; `aborted()` says whether the client went away meanwhile.
 */
async function admit(
  deps: UpgradeDeps,
  route: 'anonymous' | 'authenticated',
  request: UpgradeRequest,
  userId: string,
  credentialExpiresAt: number,
  protocol: string,
  res: HttpResponse,
  context: us_socket_context_t,
  aborted: () => boolean,
): Promise<void> {
  const data = socketData(deps, route, request, userId);
  data.session.credentialExpiresAt = credentialExpiresAt;
  await takeUserSlot(deps, data);
  if (aborted()) {
    const { session } = data;
    if (session.leaseId) void deps.userLimiter.release(userId, session.leaseId).catch(() => undefined);
    return;
  }
  res.cork(() => {
    res.upgrade<SocketData>(data, request.secKey, protocol, request.secExtensions, context);
  });
}

function decodePathUser(raw: string | undefined): string | undefined {
  try {
    const user = decodeURIComponent(raw ?? '');
    return isValidUserId(user) ? user : undefined;
  } catch {
    return undefined;
  }
}
