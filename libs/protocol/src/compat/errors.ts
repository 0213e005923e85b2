/**
 * Errors of the OpenAI-compatible route (`/v1/realtime`), in the provider's own shape, so a client written
 * for the provider handles ours unchanged:
 *
 *   {"type":"error","event_id":"event_…","error":{"type":…,"code":…,"message":…,"param":…,"event_id":…}}
 *
 * The outer `event_id` is a fresh server event id; the inner one is the failing client event's id (null when
 * it had none), as the provider sends it.
 */
import { ErrorCode } from '../codes.js';

/** One error as the provider reports it, before encoding. */
export interface CompatError {
  /** `invalid_request_error` for a fault in the client's request, `server_error` for ours. */
  type: 'invalid_request_error' | 'server_error';
  /** The provider's code (`invalid_value`, `unknown_parameter`, …) or one of our {@link ErrorCode}s. */
  code: string;
  message: string;
  /** Dotted path of the offending field (`session`, `audio`, `type`); null on the wire when absent. */
  param?: string;
  /** The failing client event's `event_id`, when it had a readable one. */
  eventId?: string;
}

// `event_` + 21 base62 characters, the length of the provider's ids (`event_Ct1OZ4pf0LWcnAxuHWRFN`).
const EVENT_ID_CHARS = 21;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// 248 is the largest multiple of 62 below 256: bytes at or above it are skipped so ids stay unbiased.
const UNBIASED_LIMIT = 248;

/** A fresh provider-style server event id. Errors are rare, so one random draw per id is fine. */
function newEventId(): string {
  let id = 'event_';
  while (id.length < 6 + EVENT_ID_CHARS) {
    // Web Crypto: this module is bundled into browser code too (the protocol library is pure).
    for (const byte of globalThis.crypto.getRandomValues(new Uint8Array(32))) {
      if (byte < UNBIASED_LIMIT) id += BASE62[byte % 62];
      if (id.length === 6 + EVENT_ID_CHARS) break;
    }
  }
  return id;
}

/** The provider's `error` server event for `err`, as the text frame to send. */
export function encodeCompatError(err: CompatError): string {
  return JSON.stringify({
    type: 'error',
    event_id: newEventId(),
    error: {
      type: err.type,
      code: err.code,
      message: err.message,
      param: err.param ?? null,
      event_id: err.eventId ?? null,
    },
  });
}

/**
 * One of our stable codes in the provider's shape, for faults the gateway or worker detects itself (rate
 * limits, a full replay buffer, an internal error): `server_error` when the code maps to a 5xx status, else
 * `invalid_request_error`. The message defaults to the registry's.
 */
export function compatErrorFor(
  code: ErrorCode,
  message?: string,
  param?: string,
  eventId?: string,
): CompatError {
  const spec = ErrorCode[code];
  const error: CompatError = {
    type: spec.httpStatus >= 500 ? 'server_error' : 'invalid_request_error',
    code,
    message: message ?? spec.message,
  };
  if (param !== undefined) error.param = param;
  if (eventId !== undefined) error.eventId = eventId;
  return error;
}

/** How the provider names a value's JSON type in its `invalid_type` messages (`an integer`, `a decimal`, …). */
export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}
