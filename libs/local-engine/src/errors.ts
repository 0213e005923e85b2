/**
 * A client request the engine refuses. Thrown by validators and handlers, turned into one non-fatal `error`
 * event by the connection; the socket stays open.
 */
export class RequestError extends Error {
  constructor(
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
    readonly errorType = 'invalid_request_error',
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** A refused handshake: the `error` event is followed by a close with `closeCode` and `type.code` as reason. */
export interface FatalError {
  type: string;
  code: string | null;
  message: string;
  closeCode: number;
}

/** The close reason the provider sends after a fatal error: `"<type>.<code>"`, or the type alone. */
export function closeReason(err: { type: string; code: string | null }): string {
  return err.code ? `${err.type}.${err.code}` : err.type;
}

/** How the provider words a value in messages: `'x'` for strings, JSON otherwise. */
export function quote(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
}

/** `'a', 'b', and 'c'`: the list style of the provider's `invalid_value` messages. */
export function listValues(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  if (quoted.length <= 2) return quoted.join(' and ');
  return `${quoted.slice(0, -1).join(', ')}, and ${quoted.at(-1)}`;
}
