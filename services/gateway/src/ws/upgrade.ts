import type { HttpRequest, HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import {
  type AuthResult,
  type AuthSettings,
  anonymousUserId,
  type ConcurrentConnectionCounter,
  type ConnectionSlot,
  extractCredentials,
  type FailedUpgradeLimiter,
  isOriginAllowed,
  isValidUserId,
  type NewConnectionLimiter,
  requireScope,
  resumeTokenFromSubprotocols,
  selectSubprotocol,
  type TokenVerifier,
  type TrustedProxies,
  type UserConnectionLimiter,
} from '@rtv/auth';
import { isSessionId, newSessionId } from '@rtv/bus';
import { CloseCode, type HttpError, httpError } from '@rtv/protocol';
import { type Logger, withTimeout } from '@rtv/service-kit';
import { resolveClientAddress } from '../http/client-address.js';
import type { GatewayMetrics } from '../metrics.js';
import { ClientSession, type ClientSessionLimits, type SocketData } from '../routing/client-session.js';
import type { CredentialKind } from '../routing/resume-tokens.js';

export interface UpgradeDeps {
  auth: AuthSettings;
  /** Undefined when no JWT secret, JWKS or API key is configured: the authenticated route then refuses all. */
  verifier: TokenVerifier | undefined;
  userLimiter: UserConnectionLimiter;
  /** New connections per address per second; refused upgrades give theirs back. */
  ipLimiter: NewConnectionLimiter;
  /** Refused upgrades per address per minute; a spent budget refuses the address before any verification. */
  failedUpgrades: FailedUpgradeLimiter;
  /** Open connections per address and on this gateway (counted by this process only). */
  connections: ConcurrentConnectionCounter;
  /** Whose X-Forwarded-For and PROXY protocol header name the client address. */
  trustedProxies: TrustedProxies;
  metrics: GatewayMetrics;
  log: Logger;
  sessionLimits: ClientSessionLimits;
  /** Whether this gateway's event loop is running late (an `EventLoopLagGuard`): new sessions are refused. */
  overload: { overloaded(): boolean };
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
const TOO_MANY_OPEN_CONNECTIONS = httpError('rate_limited', 'Too many open connections from this address');
const TOO_MANY_FAILED_UPGRADES = httpError('rate_limited', 'Too many refused connection attempts');
const GATEWAY_FULL = httpError('service_unavailable', 'This gateway is at capacity, try again later');
const GATEWAY_OVERLOADED = httpError('service_unavailable', 'This gateway is overloaded, try again shortly');
/** `retry-after` (seconds) of the refusals a well-behaved client should wait out rather than retry at once. */
const RETRY_AFTER_S = new Map<HttpError, number>([
  [TOO_MANY_NEW_CONNECTIONS, 1],
  [TOO_MANY_OPEN_CONNECTIONS, 5],
  [TOO_MANY_FAILED_UPGRADES, 60],
  [GATEWAY_FULL, 5],
  [GATEWAY_OVERLOADED, 2],
]);
/** Refusals that count against the address's failed-upgrade budget: the request itself was bad. */
const FAILED_UPGRADE_STATUSES: ReadonlySet<number> = new Set([400, 401, 403]);
const INVALID_PATH_USER = httpError(
  'invalid_message',
  'user_id must be 1-128 characters of A-Z a-z 0-9 _ . @ : -',
  'user_id',
);
const VERIFIER_UNAVAILABLE = httpError('service_unavailable', 'try again later');

/** What is copied out of the request before anything asynchronous happens (the request dies on return). */
export interface UpgradeRequest {
  secKey: string;
  secProtocol: string;
  secExtensions: string;
  origin: string;
  authorization: string;
  query: string;
  pathUser: string | undefined;
  /** The client's address ({@link TrustedProxies.resolve}): what every per-address limit counts. */
  address: string;
  /** When the upgrade arrived; a refused one gives back the new-connection count taken then. */
  receivedAtMs: number;
  /** The new-connection budget was spent for this upgrade (given back if it is refused after all). */
  countedAsNew: boolean;
  /** The open-connection slot, taken before anything asynchronous; released exactly once however it ends. */
  connectionSlot: ConnectionSlot | undefined;
}

/**
 * Decides every upgrade (DESIGN §4.6, docs/security.md): the client address (trusted proxies), its
 * failed-upgrade budget, open connections per address and per gateway, per-address rate, origin allowlist,
 * the anonymous route switch, credentials (header or the browser subprotocol form; query tokens only when enabled),
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
  const request = copyRequest(deps, route, res, req);
  const refused = checkBeforeCredentials(deps, route, request);
  if (refused) {
    refuse(deps, request, res, refused.reason, refused.refusal);
    return;
  }
  if (route === 'anonymous') upgradeAnonymous(deps, request, res, context);
  else verifyThenAdmit(deps, request, res, context);
}

/** Everything the decision needs, copied while `req` is valid (only inside the synchronous callback). */
export function copyRequest(
  deps: UpgradeDeps,
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
    address: resolveClientAddress(deps.trustedProxies, deps.metrics, res, req),
    receivedAtMs: Date.now(),
    countedAsNew: false,
    connectionSlot: undefined,
  };
}

/**
 * The checks that need no credential, cheapest first: the address's failed-upgrade budget, the open
 * connections of this gateway and of the address, the address's new-connection rate, origin, the anonymous
 * switch and its path user. Takes the open-connection slot (released by {@link refuse} or at socket close).
 */
export function checkBeforeCredentials(
  deps: UpgradeDeps,
  route: 'anonymous' | 'authenticated',
  request: UpgradeRequest,
): { reason: string; refusal: HttpError } | undefined {
  const { auth, metrics } = deps;
  if (deps.failedUpgrades.isBlocked(request.address, request.receivedAtMs)) {
    metrics.limitRejections.inc({ kind: 'failed_upgrades_per_ip' });
    return { reason: 'failed_upgrades', refusal: TOO_MANY_FAILED_UPGRADES };
  }
  const full = deps.connections.check(request.address);
  if (full === 'total') {
    metrics.limitRejections.inc({ kind: 'connections_per_gateway' });
    return { reason: 'gateway_full', refusal: GATEWAY_FULL };
  }
  // A late event loop: the calls already here come first. A resume is one of them, coming back.
  if (deps.overload.overloaded() && !/(?:^|&)resume=/.test(request.query)) {
    metrics.limitRejections.inc({ kind: 'gateway_overloaded' });
    return { reason: 'gateway_overloaded', refusal: GATEWAY_OVERLOADED };
  }
  if (full === 'per_address') {
    metrics.limitRejections.inc({ kind: 'connections_per_ip' });
    return { reason: 'ip_connections', refusal: TOO_MANY_OPEN_CONNECTIONS };
  }
  if (!deps.ipLimiter.tryAcquire(request.address, request.receivedAtMs)) {
    metrics.limitRejections.inc({ kind: 'new_connections_per_ip' });
    return { reason: 'ip_rate', refusal: TOO_MANY_NEW_CONNECTIONS };
  }
  request.countedAsNew = true;
  const slot = deps.connections.tryAcquire(request.address);
  if (slot.ok) request.connectionSlot = slot.slot;
  if (!isOriginAllowed(request.origin === '' ? undefined : request.origin, auth.origins)) {
    return { reason: 'origin', refusal: FORBIDDEN };
  }
  if (route !== 'anonymous') return undefined;
  if (!auth.allowAnonymous) return { reason: 'anonymous_disabled', refusal: FORBIDDEN };
  if (request.pathUser === undefined) return { reason: 'invalid_user_id', refusal: INVALID_PATH_USER };
  return undefined;
}

/**
 * Answers an upgrade with an HTTP refusal. Whatever the upgrade had taken is given back: its open-connection
 * slot and its new-connection count (only connections let in spend that budget). A bad request (400, 401,
 * 403) is charged to the address's failed-upgrade budget instead.
 */
export function refuse(
  deps: UpgradeDeps,
  request: UpgradeRequest,
  res: HttpResponse,
  reason: string,
  refusal: HttpError = UNAUTHORIZED,
): void {
  deps.metrics.upgradesRejected.inc({ reason });
  request.connectionSlot?.release();
  const now = Date.now();
  if (request.countedAsNew) deps.ipLimiter.refund(request.address, request.receivedAtMs, now);
  if (FAILED_UPGRADE_STATUSES.has(refusal.status)) deps.failedUpgrades.record(request.address, now);
  deps.log.debug({ reason, address: request.address }, 'upgrade refused');
  const retryAfterS = RETRY_AFTER_S.get(refusal);
  res.cork(() => {
    res.writeStatus(refusal.statusLine).writeHeader('content-type', 'application/json');
    if (retryAfterS !== undefined) res.writeHeader('retry-after', String(retryAfterS));
    res.end(refusal.body);
  });
}

/**
 * Nothing here needs to wait, so the upgrade completes in this call (uWS's synchronous path); the per-user
 * slot is taken right after open. An upgrade completed later, inside a cork, can be closed by uWS right after
 * its 101 (uWebSockets issues #1928 and #1929, unfixed in the build this project runs), so every upgrade that
 * can be decided at once is.
 */
function upgradeAnonymous(
  deps: UpgradeDeps,
  request: UpgradeRequest,
  res: HttpResponse,
  context: us_socket_context_t,
): void {
  // `anon:alice`, never `alice`: anyone may name any path user, so it must not reach a verified user's slots.
  const data = socketData(deps, 'anonymous', request, anonymousUserId(request.pathUser!), 'anonymous');
  data.slotPending = true;
  res.upgrade<SocketData>(
    data,
    request.secKey,
    selectSubprotocol(request.secProtocol),
    request.secExtensions,
    context,
  );
}

/**
 * The authenticated route: extract and verify the credential, then admit. API keys, HS256 tokens and tokens
 * of an already fetched key set are verified within this call and upgraded at once; only a token whose key
 * set must be fetched first waits for the verifier.
 */
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
    refuse(deps, request, res, `credentials_${credentials.reason}`);
    return;
  }
  const { verifier } = deps;
  if (!verifier) {
    refuse(deps, request, res, 'not_configured');
    return;
  }
  const decide = (verified: AuthResult, aborted?: () => boolean): void => {
    // An API key configured for history reads only may not open sessions.
    const result = requireScope(verified, 'sessions:connect');
    if (!result.ok) {
      refuse(deps, request, res, result.reason, result.status === 403 ? FORBIDDEN : UNAUTHORIZED);
      return;
    }
    const expiresAt =
      result.expiresAt !== undefined && deps.tokenExpiryGraceMs !== undefined
        ? result.expiresAt + deps.tokenExpiryGraceMs
        : 0;
    const admission = {
      userId: result.userId,
      credential: result.via,
      expiresAt,
      protocol: credentials.echoProtocol,
    };
    if (aborted) void admitLater(deps, request, admission, res, context, aborted);
    else admitNow(deps, request, admission, res, context);
  };
  const now = verifier.verifyNow(credentials.token);
  if (now !== undefined) {
    decide(now);
    return;
  }
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
    // Nothing answers or upgrades an aborted request, so its open-connection slot is given back here.
    request.connectionSlot?.release();
  });
  verifier.verify(credentials.token).then(
    (verified) => {
      if (!aborted) decide(verified, () => aborted);
    },
    (err: Error) => {
      deps.log.warn({ err: err.message }, 'token verification failed');
      if (!aborted) refuse(deps, request, res, 'verifier_error', VERIFIER_UNAVAILABLE);
    },
  );
}

/**
 * The socket's user data: a new session, or the resume request it carries. The resume token comes from the
 * `rtv.resume.<token>` subprotocol entry only (never echoed: `selectSubprotocol` skips it); a `resume_token`
 * in the query is kept aside to be refused once the socket is open.
 */
function socketData(
  deps: UpgradeDeps,
  route: 'anonymous' | 'authenticated',
  request: UpgradeRequest,
  userId: string,
  credential: CredentialKind,
): SocketData {
  const query = new URLSearchParams(request.query);
  const resumeSid = query.get('resume');
  const sid = isSessionId(resumeSid) ? resumeSid : newSessionId();
  const session = new ClientSession(sid, userId, route, Date.now(), deps.sessionLimits);
  session.credential = credential;
  session.wantSeq = query.get('seq') === '1';
  const data: SocketData = { session, connectionSlot: request.connectionSlot };
  const urlResumeToken = query.get('resume_token');
  if (urlResumeToken !== null) data.urlResumeToken = urlResumeToken;
  if (resumeSid !== null) {
    const lastSeq = Number(query.get('last_seq') ?? '');
    data.resume = {
      valid: isSessionId(resumeSid),
      token: resumeTokenFromSubprotocols(request.secProtocol) ?? '',
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

/** Who an upgrade admits, once its credential was checked. */
export interface Admission {
  userId: string;
  credential: CredentialKind;
  expiresAt: number;
  protocol: string;
}

/**
 * Upgrades within the upgrade handler (uWS's synchronous path); the user's connection slot is taken right
 * after open, and a user over the cap is then told so (4429), as on the anonymous route.
 */
export function admitNow(
  deps: UpgradeDeps,
  request: UpgradeRequest,
  admission: Admission,
  res: HttpResponse,
  context: us_socket_context_t,
  prepare?: (data: SocketData) => void,
): void {
  const data = admittedData(deps, request, admission, prepare);
  data.slotPending = true;
  res.upgrade<SocketData>(data, request.secKey, admission.protocol, request.secExtensions, context);
}

/**
 * After a verification that had to wait (a key set fetched): takes the user's connection slot, then upgrades
 * (or upgrades to refuse with 4429 / 1013). The caller has registered `onAborted`; `aborted()` says whether
 * the client went away meanwhile.
 */
export async function admitLater(
  deps: UpgradeDeps,
  request: UpgradeRequest,
  admission: Admission,
  res: HttpResponse,
  context: us_socket_context_t,
  aborted: () => boolean,
  prepare?: (data: SocketData) => void,
): Promise<void> {
  const data = admittedData(deps, request, admission, prepare);
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

function admittedData(
  deps: UpgradeDeps,
  request: UpgradeRequest,
  admission: Admission,
  prepare: ((data: SocketData) => void) | undefined,
): SocketData {
  const route = admission.credential === 'anonymous' ? 'anonymous' : 'authenticated';
  const data = socketData(deps, route, request, admission.userId, admission.credential);
  data.session.credentialExpiresAt = admission.expiresAt;
  prepare?.(data);
  return data;
}

/**
 * The `{user_id}` of the anonymous route, checked by the same rule as credential user ids; the connection
 * then acts as `anon:<user_id>` ({@link anonymousUserId}), so `:` and the like in it are harmless.
 */
function decodePathUser(raw: string | undefined): string | undefined {
  try {
    const user = decodeURIComponent(raw ?? '');
    return isValidUserId(user) ? user : undefined;
  } catch {
    return undefined;
  }
}
