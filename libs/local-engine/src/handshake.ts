import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  REALTIME_CLOSE_CODES,
  REALTIME_HANDSHAKE,
  type RealtimeApiShape,
} from '@rtv/protocol/openai-realtime';
import type { FatalError } from './errors.js';

/** GA ids (`gpt-realtime`, `gpt-realtime-mini`, dated and later `gpt-realtime-*`) and the beta preview ids. */
const MODEL_PATTERN =
  /^(?:gpt-realtime(?:-[a-z0-9][a-z0-9.-]*)?|gpt-4o(?:-mini)?-realtime-preview(?:-[a-z0-9.-]+)?)$/;

export function isRealtimeModel(model: string): boolean {
  return MODEL_PATTERN.test(model);
}

/** What the upgrade request asked for, read before any check runs. */
export interface HandshakeRequest {
  /** Beta when the `OpenAI-Beta: realtime=v1` header or the `openai-beta.realtime-v1` subprotocol is present. */
  shape: RealtimeApiShape;
  model: string | null;
  intent: string | null;
  /** From `Authorization: Bearer …`, else from the `openai-insecure-api-key.<key>` subprotocol. */
  apiKey: string | null;
}

export function readHandshake(req: IncomingMessage): HandshakeRequest {
  const url = new URL(req.url ?? '/', 'http://engine.invalid');
  const protocols = (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const betaHeader = String(req.headers[REALTIME_HANDSHAKE.betaHeaderName] ?? '')
    .split(',')
    .some((v) => v.trim() === REALTIME_HANDSHAKE.betaHeaderValue);
  const beta = betaHeader || protocols.includes(REALTIME_HANDSHAKE.betaSubprotocol);
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  const keyProtocol = protocols.find((p) => p.startsWith(REALTIME_HANDSHAKE.apiKeySubprotocolPrefix));
  return {
    shape: beta ? 'beta' : 'ga',
    model: url.searchParams.get('model'),
    intent: url.searchParams.get('intent'),
    apiKey: bearer ?? keyProtocol?.slice(REALTIME_HANDSHAKE.apiKeySubprotocolPrefix.length) ?? null,
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
 * shape (close 4000). Returns null when the session may start.
 */
export function checkHandshake(
  req: HandshakeRequest,
  opts: { apiKey?: string | undefined; rejectBetaShape: boolean },
): FatalError | null {
  const type = 'invalid_request_error';
  if (opts.apiKey !== undefined) {
    if (req.apiKey === null) {
      const message =
        "Missing API key: send 'Authorization: Bearer <key>' or the 'openai-insecure-api-key.<key>' subprotocol.";
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
  if (req.shape === 'beta' && opts.rejectBetaShape) {
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
  if (!isRealtimeModel(req.model)) {
    return shapeError('invalid_model', `Model "${req.model}" is not supported in realtime mode.`);
  }
  return null;
}
