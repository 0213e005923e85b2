// Function calls (docs/protocol.md, response.function_call): what the client remembers about them, how a
// handler's result becomes a `function_call_output`, and the frame that carries it.
import type { ClientMessage } from '@rtv/protocol';
import { RealtimeClientError } from './errors.js';

/** A function call of the model, from `response.function_call`. */
export interface FunctionCall {
  callId: string;
  /** The function tool's `name`. */
  name: string;
  /** The arguments as the JSON text the model produced; it may be invalid. */
  arguments: string;
  /** `arguments` parsed; absent when they are not valid JSON. */
  parsedArguments?: unknown;
}

/**
 * Runs a function the model called. Its return value (or resolved value) is the output: a string as is,
 * `undefined` as `""`, anything else as JSON. A throw or rejection answers `{"error":"<message>"}`.
 */
export type FunctionCallHandler = (call: FunctionCall) => unknown;

/** Payload of the `functionCallOutput` event: a `function_call_output` the client sent. */
export interface FunctionCallOutputEvent {
  callId: string;
  /** The function's name, when the call was seen on this client. */
  name: string | undefined;
  output: string;
  /** The handler threw, rejected or returned something that is not an output; `output` is the error. */
  failed: boolean;
  /** Whether the server was asked for the follow-up reply. */
  respond: boolean;
}

export interface SendFunctionOutputOptions {
  /**
   * Whether the server asks the model for the follow-up reply; `false` only adds the result (send several,
   * then `respond` on the last, or `createResponse()` later).
   * @defaultValue true
   */
  respond?: boolean;
}

/** The protocol's limit on `function_call_output.output`. */
export const MAX_FUNCTION_OUTPUT_CHARS = 65_536;
/** The protocol's limit on a `call_id`. */
export const MAX_CALL_ID_CHARS = 64;
/** How many call ids the client remembers to answer each call once. */
export const REMEMBERED_CALLS = 256;

/** The call a `response.function_call` message carries. */
export function functionCallOf(response: { call_id: string; name: string; arguments: string }): FunctionCall {
  const call: FunctionCall = { callId: response.call_id, name: response.name, arguments: response.arguments };
  try {
    call.parsedArguments = JSON.parse(response.arguments);
  } catch {
    // Invalid JSON from the model: the handler sees only `arguments`.
  }
  return call;
}

/**
 * A handler's result as an output: a string as is, `undefined` as `""`, anything else as JSON. Throws for a
 * value JSON cannot represent (a cycle, a BigInt) and for an output over the protocol's limit.
 */
export function toFunctionOutput(value: unknown): string {
  const output = typeof value === 'string' ? value : value === undefined ? '' : (JSON.stringify(value) ?? '');
  if (output.length > MAX_FUNCTION_OUTPUT_CHARS) {
    throw new RealtimeClientError(
      'invalid_argument',
      `the output is ${output.length} characters; the protocol allows at most ${MAX_FUNCTION_OUTPUT_CHARS}`,
    );
  }
  return output;
}

/** The output that reports a failed call to the model: `{"error":"<message>"}`. */
export function errorOutput(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return JSON.stringify({ error: message.slice(0, 1000) || 'the function failed' });
}

/** The `function_call_output` message; throws `invalid_argument` for what the server would reject. */
export function functionOutputFrame(callId: string, output: string, respond: boolean): ClientMessage {
  if (typeof callId !== 'string' || callId.length === 0 || callId.length > MAX_CALL_ID_CHARS) {
    throw new RealtimeClientError('invalid_argument', `callId must be 1-${MAX_CALL_ID_CHARS} characters`);
  }
  return {
    type: 'conversation.item.input',
    conversation_item_input: {
      type: 'function_call_output',
      call_id: callId,
      output,
      ...(respond ? {} : { respond: false }),
    },
  };
}

/**
 * The calls this client has seen and answered, so that a call delivered again (a replay after a resume, a
 * re-sent message after a server failover) is neither handled nor answered twice. Bounded: the oldest ids
 * are forgotten beyond {@link REMEMBERED_CALLS}.
 */
export class CallLedger {
  readonly #calls = new Map<string, { name: string | undefined; answered: boolean }>();

  /** Records a delivered call; false if it was seen (or answered) before. */
  admit(call: FunctionCall): boolean {
    if (this.#calls.has(call.callId)) return false;
    this.#remember(call.callId, { name: call.name, answered: false });
    return true;
  }

  answered(callId: string): boolean {
    return this.#calls.get(callId)?.answered === true;
  }

  /** Records an answer; returns the call's name when it was seen. */
  markAnswered(callId: string): string | undefined {
    const entry = this.#calls.get(callId);
    if (entry) {
      entry.answered = true;
      return entry.name;
    }
    this.#remember(callId, { name: undefined, answered: true });
    return undefined;
  }

  #remember(callId: string, entry: { name: string | undefined; answered: boolean }): void {
    this.#calls.set(callId, entry);
    if (this.#calls.size > REMEMBERED_CALLS) {
      const oldest = this.#calls.keys().next().value;
      if (oldest !== undefined) this.#calls.delete(oldest);
    }
  }
}

/** One call being answered by the handler. */
export interface PendingAnswer {
  call: FunctionCall;
  /** Set once the handler settled. */
  result: { output: string; error?: unknown } | undefined;
}

/** The calls of one reply: answered together once the reply is done and every handler has settled. */
export interface CallBatch {
  answers: PendingAnswer[];
  /** The reply's `response.done` arrived. */
  done: boolean;
  /** That reply was cancelled: the outputs are added without asking for a follow-up. */
  cancelled: boolean;
}

/** Runs the handler; never rejects (a failure becomes the error output). */
export async function runHandler(
  handler: FunctionCallHandler,
  call: FunctionCall,
): Promise<{ output: string; error?: unknown }> {
  try {
    return { output: toFunctionOutput(await handler(call)) };
  } catch (error) {
    return { output: errorOutput(error), error };
  }
}
