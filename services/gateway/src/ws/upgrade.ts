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
import { isSessionId, newSessionId } from '@rtv/bus';
import { CloseCode, type HttpError, httpError } from '@rtv/protocol';
import { type Logger, withTimeout } from '@rtv/service-kit';
import type { GatewayMetrics } from '../metrics.js';
import { ClientSession, type ClientSessionLimits, type SocketData } from '../routing/client-session.js';

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

/**
 * Authentication refusals name the code and nothing else: which check failed goes to the logs and the
 * `reason` metric label, never to a prober. The other refusals say what the client can fix.
 */
const UNAUTHORIZED = httpError('unauthorized', 'unauthorized');
const FORBIDDEN = httpError('forbidden', 'forbidden');
const TOO_MANY_NEW_CONNECTIONS = httpError('rate_limited', 'Too many new connections');
const INVALID_PATH_USER = httpError(
  'invalid_message',
  'user_id must be 1-128 characters of A-Z a-z 0-9 _ . @ : -',
  'user_id',
);
const VERIFIER_UNAVAILABLE = httpError('service_unavailable', 'try again later');

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
  const request = copyRequest(route, res, req);
  const refused = checkBeforeCredentials(deps, route, request);
  if (refused) {
    refuse(deps, res, refused.reason, refused.refusal);
    return;
  }
  if (route === 'anonymous') upgradeAnonymous(deps, request, res, context);
  else verifyThenAdmit(deps, request, res, context);
}

/** Everything the decision needs, copied while `req` is valid (only inside the synchronous callback). */
function copyRequest(
  route: 'anonymous' | 'authenticated',
  res: HttpResponse,
  req: HttpRequest,
): UpgradeRequest {
  return {
    secKey: req.getHeader('sec-websocket-key'),
    secProtocol: req.getHeader('sec-websocket-protocol'),
    secExtensions: req.getHeader('sec-websocket-extensions'),
    origin: req.getHeader('origin'),
    authorization: req.getHeader('authorization'),
    query: req.getQuery() ?? '',
    pathUser: route === 'anonymous' ? decodePathUser(req.getParameter(0)) : undefined,
    address: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
}

/** The checks that need no credential: address rate, origin, the anonymous switch and its path user. */
function checkBeforeCredentials(
  deps: UpgradeDeps,
  route: 'anonymous' | 'authenticated',
  request: UpgradeRequest,
): { reason: string; refusal: HttpError } | undefined {
  const { auth } = deps;
  if (!deps.ipLimiter.tryAcquire(request.address, Date.now())) {
    deps.metrics.limitRejections.inc({ kind: 'new_connections_per_ip' });
    return { reason: 'ip_rate', refusal: TOO_MANY_NEW_CONNECTIONS };
  }
  if (!isOriginAllowed(request.origin === '' ? undefined : request.origin, auth.origins)) {
    return { reason: 'origin', refusal: FORBIDDEN };
  }
  if (route !== 'anonymous') return undefined;
  if (!auth.allowAnonymous) return { reason: 'anonymous_disabled', refusal: FORBIDDEN };
  if (request.pathUser === undefined) return { reason: 'invalid_user_id', refusal: INVALID_PATH_USER };
  return undefined;
}

function refuse(
  deps: UpgradeDeps,
  res: HttpResponse,
  reason: string,
  refusal: HttpError = UNAUTHORIZED,
): void {
  deps.metrics.upgradesRejected.inc({ reason });
  res.cork(() =>
    res.writeStatus(refusal.statusLine).writeHeader('content-type', 'application/json').end(refusal.body),
  );
}

/**
 * Nothing here needs to wait, so the upgrade completes in this call (uWS's synchronous path); the per-user
 * slot is taken right after open. An asynchronous upgrade inside a cork can make uWS close the fresh socket
 * (uWebSockets issue #1928), so it is kept to the route that must verify a token first.
 */
function upgradeAnonymous(
  deps: UpgradeDeps,
  request: UpgradeRequest,
  res: HttpResponse,
  context: us_socket_context_t,
): void {
  const data = socketData(deps, 'anonymous', request, request.pathUser!);
  data.slotPending = true;
  res.upgrade<SocketData>(
    data,
    request.secKey,
    selectSubprotocol(request.secProtocol),
    request.secExtensions,
    context,
  );
}

/** The authenticated route: extract and verify the credential, then admit (asynchronously). */
function verifyThenAdmit(
  deps: UpgradeDeps,
  request: UpgradeRequest,
  res: HttpResponse,
  context: us_socket_context_t,
): void {
  const credentials = extractCredentials(
    { authorization: request.authorization, secWebSocketProtocol: request.secProtocol, query: request.query },
    deps.auth.extract,
  );
  if (!credentials.ok) {
    refuse(deps, res, `credentials_${credentials.reason}`);
    return;
  }
  if (!deps.verifier) {
    refuse(deps, res, 'not_configured');
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
        refuse(deps, res, result.reason, result.status === 403 ? FORBIDDEN : UNAUTHORIZED);
        return;
      }
      const expiresAt =
        result.expiresAt !== undefined && deps.tokenExpiryGraceMs !== undefined
          ? result.expiresAt + deps.tokenExpiryGraceMs
          : 0;
      const admission = { userId: result.userId, expiresAt, protocol: credentials.echoProtocol };
      void admit(deps, request, admission, res, context, () => aborted);
    },
    (err: Error) => {
      deps.log.warn({ err: err.message }, 'token verification failed');
      if (!aborted) refuse(deps, res, 'verifier_error', VERIFIER_UNAVAILABLE);
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
  const sid = isSessionId(resumeSid) ? resumeSid : newSessionId();
  const session = new ClientSession(sid, userId, route, Date.now(), deps.sessionLimits);
  session.wantSeq = query.get('seq') === '1';
  const data: SocketData = { session };
  if (resumeSid !== null) {
    const lastSeq = Number(query.get('last_seq') ?? '');
    data.resume = {
      valid: isSessionId(resumeSid),
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
      data.refuse = {
        code: CloseCode.TooManyConnections,
        message: `Too many connections for this user (limit ${slot.limit})`,
      };
    }
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'per-user connection count unavailable');
    data.refuse = { code: CloseCode.TryAgainLater, message: 'Service unavailable, retry later' };
  }
}

/**
 * Takes the user's connection slot, then upgrades (or upgrades to refuse with 4429 / 1013). The caller has
 * registered `onAborted`; `aborted()` says whether the client went away meanwhile.
 */
async function admit(
  deps: UpgradeDeps,
  request: UpgradeRequest,
  admission: { userId: string; expiresAt: number; protocol: string },
  res: HttpResponse,
  context: us_socket_context_t,
  aborted: () => boolean,
): Promise<void> {
  const data = socketData(deps, 'authenticated', request, admission.userId);
  data.session.credentialExpiresAt = admission.expiresAt;
  await takeUserSlot(deps, data);
  if (aborted()) {
    const { session } = data;
    if (session.leaseId)
      void deps.userLimiter.release(admission.userId, session.leaseId).catch(() => undefined);
    return;
  }
  res.cork(() => {
    res.upgrade<SocketData>(data, request.secKey, admission.protocol, request.secExtensions, context);
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
