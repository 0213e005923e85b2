import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  REALTIME_CLOSE_CODES,
  REALTIME_HANDSHAKE,
  RETIRED_REALTIME_MODELS,
  type RealtimeApiShape,
} from '@rtv/protocol/openai-realtime';
import type { FatalError } from './errors.js';

/** GA ids (`gpt-realtime`, `gpt-realtime-mini`, dated and later `gpt-realtime-*`) and the beta preview ids. */
const MODEL_PATTERN =
  /^(?:gpt-realtime(?:-[a-z0-9][a-z0-9.-]*)?|gpt-4o(?:-mini)?-realtime-preview(?:-[a-z0-9.-]+)?)$/;
/** The preview family, all of which OpenAI shut down in 2025. */
const PREVIEW_PATTERN = /^gpt-4o(?:-mini)?-realtime-preview(?:-[a-z0-9.-]+)?$/;

/**
 * Preview (beta-era) model ids that OpenAI has retired. The engine refuses them like the live service does:
 * `error` `invalid_model` then close 4000 (`invalid_request_error.invalid_model`). Any other
 * `gpt-4o(-mini)-realtime-preview-*` id is retired too (see {@link isRetiredModel}).
 */
export const RETIRED_MODELS = RETIRED_REALTIME_MODELS;

/**
 * Azure OpenAI's GA realtime path: `/openai/v1/realtime?model=<deployment>` (no `api-version`). The engine
 * serves it beside its OpenAI path; the deployment name stands in for the model.
 */
export const AZURE_REALTIME_PATH = '/openai/v1/realtime';

/** Azure deployment names: letters, digits, `-`, `_` and `.`, up to 64 characters. */
const DEPLOYMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A model id the realtime endpoint recognises (current or retired; see {@link isRetiredModel}). */
export function isRealtimeModel(model: string): boolean {
  return MODEL_PATTERN.test(model);
}

/** A recognised but retired model id (the preview family): refused with `invalid_model`. */
export function isRetiredModel(model: string): boolean {
  return (RETIRED_MODELS as readonly string[]).includes(model) || PREVIEW_PATTERN.test(model);
}

/** Which endpoint form the connection used. */
export type EndpointFlavor = 'openai' | 'azure';

/** What the upgrade request asked for, read before any check runs. */
export interface HandshakeRequest {
  /** URL path of the upgrade request. */
  path: string;
  flavor: EndpointFlavor;
  /** Beta when the `OpenAI-Beta: realtime=v1` header or the `openai-beta.realtime-v1` subprotocol is present. */
  shape: RealtimeApiShape;
  /** `?model=`: a model id, or the deployment name on the Azure path. */
  model: string | null;
  intent: string | null;
  /** From `Authorization: Bearer …`, else the `api-key` header (Azure), else the key subprotocol. */
  apiKey: string | null;
  /** Where the key came from. */
  auth: 'bearer' | 'api-key' | 'subprotocol' | null;
  /** Which credential headers were present (never their values). */
  headers: { authorization: boolean; 'api-key': boolean; 'openai-beta': boolean };
  /** Offered subprotocols, the key one redacted. */
  subprotocols: string[];
}

/**
 * What the engine reports about each upgrade on `events` (`'handshake' (connId, info)`), for tests that check
 * how a client connects. Secrets never appear: only whether a credential was sent, and the key's last four
 * characters when it is long enough for that to reveal nothing useful.
 */
export interface HandshakeInfo {
  path: string;
  flavor: EndpointFlavor;
  model: string | null;
  shape: RealtimeApiShape;
  headers: { authorization: boolean; 'api-key': boolean; 'openai-beta': boolean };
  subprotocols: string[];
  auth: 'bearer' | 'api-key' | 'subprotocol' | null;
  /** Last four characters of the presented key (keys of 12+ characters only), else null. */
  keyLast4: string | null;
  /** The refusal's error code, or null when the session starts. */
  refused: string | null;
}

export function readHandshake(req: IncomingMessage): HandshakeRequest {
  const url = new URL(req.url ?? '/', 'http://engine.invalid');
  const protocols = (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const betaHeaderRaw = req.headers[REALTIME_HANDSHAKE.betaHeaderName];
  const betaHeader = String(betaHeaderRaw ?? '')
    .split(',')
    .some((v) => v.trim() === REALTIME_HANDSHAKE.betaHeaderValue);
  const beta = betaHeader || protocols.includes(REALTIME_HANDSHAKE.betaSubprotocol);
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  const apiKeyHeader = headerValue(req.headers['api-key']);
  const prefix = REALTIME_HANDSHAKE.apiKeySubprotocolPrefix;
  const keyProtocol = protocols.find((p) => p.startsWith(prefix))?.slice(prefix.length);
  const auth = bearer ? 'bearer' : apiKeyHeader ? 'api-key' : keyProtocol ? 'subprotocol' : null;
  return {
    path: url.pathname,
    flavor: url.pathname === AZURE_REALTIME_PATH ? 'azure' : 'openai',
    shape: beta ? 'beta' : 'ga',
    model: url.searchParams.get('model'),
    intent: url.searchParams.get('intent'),
    apiKey: bearer ?? apiKeyHeader ?? keyProtocol ?? null,
    auth,
    headers: {
      authorization: req.headers.authorization !== undefined,
      'api-key': req.headers['api-key'] !== undefined,
      'openai-beta': betaHeaderRaw !== undefined,
    },
    subprotocols: protocols.map((p) => (p.startsWith(prefix) ? `${prefix}<redacted>` : p)),
  };
}

function headerValue(raw: string | string[] | undefined): string | undefined {
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  return value ? value : undefined;
}

/** The report for the `'handshake'` event: the request without secrets, plus the outcome. */
export function describeHandshake(req: HandshakeRequest, fatal: FatalError | null): HandshakeInfo {
  return {
    path: req.path,
    flavor: req.flavor,
    model: req.model,
    shape: req.shape,
    headers: { ...req.headers },
    subprotocols: [...req.subprotocols],
    auth: req.auth,
    keyLast4: req.apiKey && req.apiKey.length >= 12 ? req.apiKey.slice(-4) : null,
    refused: fatal ? (fatal.code ?? fatal.type) : null,
  };
}

/** The subprotocol to select: the provider always answers `realtime` when it is offered. */
export function selectProtocol(offered: Set<string>): string | false {
  return offered.has(REALTIME_HANDSHAKE.subprotocol) ? REALTIME_HANDSHAKE.subprotocol : false;
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The checks the provider runs right after the upgrade, in its order: credentials (close 3000), then request
 * shape (close 4000): beta shape (unless allowed), missing model, unknown or retired model. On the Azure path
 * the model is a deployment name: any well-formed name is accepted and served with GA behaviour.
 * Returns null when the session may start.
 */
export function checkHandshake(
  req: HandshakeRequest,
  opts: { apiKey?: string | undefined; allowBetaShape: boolean },
): FatalError | null {
  const type = 'invalid_request_error';
  if (opts.apiKey !== undefined) {
    if (req.apiKey === null) {
      const message =
        "Missing API key: send 'Authorization: Bearer <key>', the 'api-key' header or the 'openai-insecure-api-key.<key>' subprotocol.";
      return { type, code: 'invalid_api_key', message, closeCode: REALTIME_CLOSE_CODES.auth };
    }
    if (!sameKey(req.apiKey, opts.apiKey)) {
      // Never echo the key back: error bodies end up in logs.
      const message =
        'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.';
      return { type, code: 'invalid_api_key', message, closeCode: REALTIME_CLOSE_CODES.auth };
    }
  }
  const shapeError = (code: string, message: string): FatalError => ({
    type,
    code,
    message,
    closeCode: REALTIME_CLOSE_CODES.requestShape,
  });
  if (req.shape === 'beta' && !opts.allowBetaShape) {
    return shapeError(
      'beta_api_shape_disabled',
      "The Realtime API beta shape ('OpenAI-Beta: realtime=v1') is no longer supported. Remove the header to use the GA interface.",
    );
  }
  if (req.model === null) {
    if (req.intent !== null) {
      return shapeError(
        'invalid_intent',
        `Intent '${req.intent}' is not supported by the local engine; pass ?model= instead.`,
      );
    }
    return shapeError(
      'missing_model',
      'You must provide a model parameter, for example wss://api.openai.com/v1/realtime?model=gpt-realtime',
    );
  }
  if (req.flavor === 'azure') {
    if (!DEPLOYMENT_PATTERN.test(req.model)) {
      return shapeError('invalid_model', `Deployment "${req.model}" is not a valid deployment name.`);
    }
    return null;
  }
  if (!isRealtimeModel(req.model)) {
    return shapeError('invalid_model', `Model "${req.model}" is not supported in realtime mode.`);
  }
  if (isRetiredModel(req.model)) {
    return shapeError(
      'invalid_model',
      `Model "${req.model}" has been retired and is no longer available. Use gpt-realtime or gpt-realtime-mini instead.`,
    );
  }
  return null;
}
