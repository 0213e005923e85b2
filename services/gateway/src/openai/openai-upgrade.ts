import type { HttpRequest, HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import { createHash } from 'node:crypto';
import {
  type AuthResult,
  type AuthSuccess,
  anonymousUserId,
  extractCredentials,
  requireScope,
} from '@rtv/auth';
import { CloseCode, type CompatPolicy, DEFAULT_SESSION_CONFIG, httpError } from '@rtv/protocol';
import { openAiDialect } from '../routing/client-dialect.js';
import type { SocketData } from '../routing/client-session.js';
import type { CredentialKind } from '../routing/resume-tokens.js';
import {
  admitLater,
  admitNow,
  checkBeforeCredentials,
  copyRequest,
  refuse,
  type UpgradeDeps,
  type UpgradeRequest,
} from '../ws/upgrade.js';

/** What the OpenAI-compatible route adds to the upgrade: the deployment's policy. */
export interface OpenAiRouteDeps {
  policy: CompatPolicy;
}

/** The subprotocol OpenAI's SDKs offer (and the provider echoes). */
const REALTIME_SUBPROTOCOL = 'realtime';
/** OpenAI API keys (`sk-…`, `sk-proj-…`) and ephemeral client keys (`ek_…`): provider credentials. */
const PROVIDER_KEY = /^(sk-|ek_)/;
const PROVIDER_KEY_REFUSED = httpError(
  'provider_key_refused',
  'Provider API keys are not accepted here; use a gateway credential',
);
const FORBIDDEN = httpError('forbidden', 'forbidden');

/** Who the caller is, once its credential was checked. */
interface Caller {
  userId: string;
  credential: CredentialKind;
  expiresAt: number;
  claims: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Decides an upgrade of `/v1/realtime`, the route OpenAI's SDKs reach when pointed at the gateway: the same
 * address, origin and connection checks as the seed routes, then the gateway credential from
 * `Authorization: Bearer` or the SDKs' browser subprotocol `openai-insecure-api-key.<credential>`. An OpenAI key
 * there is refused outright (401 `provider_key_refused`): clients never hold the provider key. With no token
 * verifier configured and anonymous access on (the `npm start` default), any other credential is accepted
 * as an anonymous user named by a hash of it. The model (`?model=`) is checked against the caller's class in
 * the policy; a refused model is upgraded and then told (`model_not_allowed`, close 4403), as the provider
 * does, so an SDK can show why.
 */
export function handleOpenAiUpgrade(
  deps: UpgradeDeps,
  route: OpenAiRouteDeps,
  res: HttpResponse,
  req: HttpRequest,
  context: us_socket_context_t,
): void {
  const request = copyRequest(deps, 'authenticated', res, req);
  const refused = checkBeforeCredentials(deps, 'authenticated', request);
  if (refused) {
    refuse(deps, request, res, refused.reason, refused.refusal);
    return;
  }
  const credentials = extractCredentials(
    { authorization: request.authorization, secWebSocketProtocol: request.secProtocol, query: request.query },
    { ...deps.auth.extract, openAiKeySubprotocol: true },
  );
  if (!credentials.ok) {
    refuse(deps, request, res, `credentials_${credentials.reason}`);
    return;
  }
  if (PROVIDER_KEY.test(credentials.token)) {
    refuse(deps, request, res, 'provider_key', PROVIDER_KEY_REFUSED);
    return;
  }
  const protocol = offersRealtime(request.secProtocol) ? REALTIME_SUBPROTOCOL : credentials.echoProtocol;
  const decide = (caller: Caller | string, aborted?: () => boolean): void => {
    if (typeof caller === 'string') {
      refuse(deps, request, res, caller, caller === 'scope' ? FORBIDDEN : undefined);
      return;
    }
    const admission = { ...caller, protocol };
    const prepare = (data: SocketData) => prepareSession(route.policy, request, caller, data);
    if (aborted) void admitLater(deps, request, admission, res, context, aborted, prepare);
    else admitNow(deps, request, admission, res, context, prepare);
  };
  // Decided within this call whenever the credential allows it, so the upgrade takes uWS's synchronous path.
  const now = identifyNow(deps, credentials.token);
  if (now !== undefined) {
    decide(now);
    return;
  }
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
    request.connectionSlot?.release();
  });
  deps.verifier!.verify(credentials.token).then(
    (verified) => {
      if (!aborted) decide(callerFrom(deps, verified), () => aborted);
    },
    (err: Error) => {
      deps.log.warn({ err: err.message }, 'token verification failed');
      if (!aborted)
        refuse(deps, request, res, 'verifier_error', httpError('service_unavailable', 'try again later'));
    },
  );
}

/**
 * The caller behind `token`, or the reason (a metric label) it is refused; `undefined` when the verifier must
 * fetch a key set first.
 */
function identifyNow(deps: UpgradeDeps, token: string): Caller | string | undefined {
  if (!deps.verifier) {
    if (!deps.auth.allowAnonymous) return 'not_configured';
    const name = `openai-${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
    return { userId: anonymousUserId(name), credential: 'anonymous', expiresAt: 0, claims: undefined };
  }
  const verified = deps.verifier.verifyNow(token);
  return verified === undefined ? undefined : callerFrom(deps, verified);
}

function callerFrom(deps: UpgradeDeps, result: AuthResult): Caller | string {
  const verified = requireScope(result, 'sessions:connect');
  if (!verified.ok) return verified.reason;
  return callerOf(verified, deps.tokenExpiryGraceMs);
}

function callerOf(verified: AuthSuccess, graceMs: number | undefined): Caller {
  const expiresAt =
    verified.expiresAt !== undefined && graceMs !== undefined ? verified.expiresAt + graceMs : 0;
  return { userId: verified.userId, credential: verified.via, expiresAt, claims: verified.claims };
}

/**
 * Makes the new socket's session an OpenAI-compatible one: the provider dialect for what the gateway says, the
 * policy class, model, first session settings, limits and budget; or, for a refused model, the refusal.
 */
function prepareSession(
  policy: CompatPolicy,
  request: UpgradeRequest,
  caller: Caller,
  data: SocketData,
): void {
  const query = new URLSearchParams(request.query);
  const rtvEvents = query.get('rtv_events') === '1';
  const { session } = data;
  session.dialect = openAiDialect(rtvEvents);
  const claim = caller.claims?.[policy.classClaim];
  const userClass = policy.classFor(typeof claim === 'string' ? { class: claim } : {});
  const model = policy.resolveModel(userClass, query.get('model') ?? undefined);
  if (!model.ok) {
    data.refuse = { code: CloseCode.Forbidden, message: model.message, errorCode: 'model_not_allowed' };
    return;
  }
  const budget = policy.budget(userClass);
  const maxSessionS = policy.maxSessionS(userClass);
  if (maxSessionS !== undefined) session.maxDurationMs = maxSessionS * 1000;
  const rate = policy.rate(userClass);
  if (rate) session.rateOverride = { messagesPerS: rate.eventsPerS, messageBurst: rate.burst };
  session.config = {
    ...DEFAULT_SESSION_CONFIG,
    openai: {
      model: model.model,
      session: policy.initialSession(userClass, model.model) ?? {},
      userClass,
      rtvEvents,
      ...(budget ? { budget } : {}),
    },
  };
}

function offersRealtime(secProtocol: string): boolean {
  return secProtocol.split(',').some((entry) => entry.trim() === REALTIME_SUBPROTOCOL);
}
