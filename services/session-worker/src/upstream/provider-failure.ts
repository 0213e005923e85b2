import type { ErrorCode } from '@rtv/protocol';
import { REALTIME_CLOSE_CODES } from '@rtv/protocol/openai-realtime';

/**
 * Why a provider session could not be (re)opened, classified once so every caller reacts the same way
 * (STYLE §11): a fatal failure (a retired or unknown model, a refused key, a disabled protocol shape) cannot
 * be fixed by retrying and ends the session with a "do not reconnect" close; a retryable one (rate limits,
 * 5xx, dropped sockets, timeouts) was retried until the budget ran out.
 */
export type ProviderFailureKind = 'model_unavailable' | 'auth_failed' | 'shape_unsupported' | 'unavailable';

export interface ProviderFailure {
  readonly kind: ProviderFailureKind;
  /** True when retrying with the same configuration cannot succeed. */
  readonly fatal: boolean;
  /** The public error code the client gets. */
  readonly code: ErrorCode;
  /** For logs and `/health`: a short machine-readable reason (e.g. `invalid_request_error.invalid_model`). */
  readonly detail: string;
}

/** The public error code for each kind of failure. */
export const PROVIDER_FAILURE_CODES = {
  model_unavailable: 'upstream_model_unavailable',
  auth_failed: 'upstream_auth_failed',
  shape_unsupported: 'upstream_shape_unsupported',
  unavailable: 'upstream_unavailable',
} as const satisfies Record<ProviderFailureKind, ErrorCode>;

/** A failure of `kind`: every kind but `unavailable` is fatal. */
export function providerFailure(kind: ProviderFailureKind, detail: string): ProviderFailure {
  return { kind, fatal: kind !== 'unavailable', code: PROVIDER_FAILURE_CODES[kind], detail };
}

/** A failed provider connect, carrying its classification (STYLE §11). Messages never contain credentials. */
export class ProviderConnectError extends Error {
  constructor(
    message: string,
    readonly failure: ProviderFailure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderConnectError';
  }

  /** Whether another attempt with the same configuration can succeed. */
  get retryable(): boolean {
    return !this.failure.fatal;
  }
}

/** The classification of anything a connect attempt threw (an unexpected error counts as retryable). */
export function failureOf(err: unknown): ProviderFailure {
  return err instanceof ProviderConnectError ? err.failure : providerFailure('unavailable', 'connect_error');
}

/**
 * Provider error codes (from an `error` event, a close reason `<type>.<code>`, or an HTTP refusal's body)
 * that no retry can fix. OpenAI answers a retired model id (the seed's `gpt-4o-realtime-preview-2024-10-01`)
 * with `invalid_model`; Azure names an unknown deployment `DeploymentNotFound`.
 */
const FATAL_PROVIDER_CODES: Readonly<Record<string, ProviderFailureKind>> = {
  invalid_api_key: 'auth_failed',
  beta_api_shape_disabled: 'shape_unsupported',
  invalid_model: 'model_unavailable',
  missing_model: 'model_unavailable',
  model_not_found: 'model_unavailable',
  DeploymentNotFound: 'model_unavailable',
  OperationNotSupported: 'model_unavailable',
};

/** What the provider said about a refusal: the `type` and `code` of its `error` event or close reason. */
export interface ProviderRefusal {
  type?: string | undefined;
  code?: string | undefined;
}

/** The fatal kind a provider error code stands for, if it is one. */
export function fatalKindOf(refusal: ProviderRefusal | undefined): ProviderFailureKind | undefined {
  return refusal?.code ? FATAL_PROVIDER_CODES[refusal.code] : undefined;
}

/**
 * A socket the provider closed before `session.created`. Close 3000 is auth (`invalid_api_key`), close 4000 a
 * request-shape refusal (`invalid_model`, `missing_model`, `beta_api_shape_disabled`, `invalid_intent`): both
 * fatal. Anything else (a drop, 1011, 1013) is retryable.
 */
export function classifyClose(closeCode: number, refusal: ProviderRefusal | undefined): ProviderFailure {
  const named = [refusal?.type, refusal?.code].filter(Boolean).join('.');
  const detail = named || `close_${closeCode}`;
  const known = fatalKindOf(refusal);
  if (known) return providerFailure(known, detail);
  if (closeCode === REALTIME_CLOSE_CODES.auth || refusal?.type === 'authentication_error')
    return providerFailure('auth_failed', detail);
  if (closeCode === REALTIME_CLOSE_CODES.requestShape) return providerFailure('shape_unsupported', detail);
  return providerFailure('unavailable', named ? `${named}.close_${closeCode}` : detail);
}

/**
 * An HTTP answer instead of the 101 (OpenAI always upgrades first; Azure and proxies refuse with a status).
 * 401/403: the credentials; 404/410: the model or deployment (Azure answers 404 for an unknown deployment);
 * 408, 429, 5xx and non-error statuses: retryable; any other 4xx: the endpoint refuses the request as built.
 * `bodyCode` is the `error.code` of the response body, when it had one.
 */
export function classifyUpgradeRefusal(status: number, bodyCode?: string): ProviderFailure {
  const detail = `http_${status}${bodyCode ? `.${bodyCode}` : ''}`;
  if (status === 401 || status === 403) return providerFailure('auth_failed', detail);
  if (status < 400 || status === 408 || status === 429 || status >= 500)
    return providerFailure('unavailable', detail);
  const known = fatalKindOf({ code: bodyCode });
  if (known) return providerFailure(known, detail);
  if (status === 404 || status === 410) return providerFailure('model_unavailable', detail);
  return providerFailure('shape_unsupported', detail);
}

/** The `type` and `code` of an `error` event's JSON text, or of a close reason `<type>.<code>`. */
export function parseRefusal(text: string): ProviderRefusal | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const error = (JSON.parse(trimmed) as { error?: { type?: unknown; code?: unknown } }).error;
      return { type: token(error?.type), code: token(error?.code) };
    } catch {
      return undefined;
    }
  }
  const m = /^([A-Za-z_]{1,64})(?:\.([A-Za-z_]{1,64}))?$/.exec(trimmed);
  return m ? { type: m[1], code: m[2] } : undefined;
}

/** Only short identifier-like values reach logs and `/health`. */
function token(v: unknown): string | undefined {
  return typeof v === 'string' && /^[A-Za-z_]{1,64}$/.test(v) ? v : undefined;
}
