// Turns server events into readable terminal output: reply text streamed on one line, audio as a running
// byte/duration count, errors in red. With --json, raw events one per line instead.
import { pcmDurationMs } from './audio.js';

export interface Output {
  write(chunk: string): unknown;
}

export interface PrinterOptions {
  out: Output;
  err: Output;
  /** ANSI colours (only on a TTY, and not with NO_COLOR). */
  color: boolean;
  /** Redraw the audio counter in place; only sensible on a terminal. */
  live: boolean;
  json: boolean;
}

/** A server event as far as the printer needs to know it. */
export interface ServerEvent {
  type: string;
  [key: string]: unknown;
}

const ANSI = { red: 31, green: 32, dim: 2, bold: 1, cyan: 36 } as const;

function field(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export class EventPrinter {
  readonly #o: PrinterOptions;
  /** What the current, unterminated line holds. */
  #line: 'none' | 'text' | 'audio' = 'none';
  #audioBytes = 0;

  constructor(options: PrinterOptions) {
    this.#o = options;
  }

  #paint(color: keyof typeof ANSI, s: string): string {
    return this.#o.color ? `\x1b[${ANSI[color]}m${s}\x1b[0m` : s;
  }

  #endLine(): void {
    if (this.#line !== 'none') this.#o.out.write('\n');
    this.#line = 'none';
  }

  #audioSummary(): string {
    return `${(pcmDurationMs(this.#audioBytes) / 1000).toFixed(2)} s audio (${this.#audioBytes} bytes)`;
  }

  /** Our own input, echoed so the transcript reads like a conversation. */
  sent(description: string): void {
    if (this.#o.json) return;
    this.#endLine();
    this.#o.out.write(`${this.#paint('bold', '>')} ${description}\n`);
  }

  /** A client-side note (connection, files written). */
  note(message: string): void {
    if (this.#o.json) return;
    this.#endLine();
    this.#o.out.write(`${this.#paint('dim', message)}\n`);
  }

  /** The answer sent to a function call (from the tools file, or an error output). */
  toolAnswer(name: string, output: string, error: boolean): void {
    if (this.#o.json) return;
    this.#endLine();
    const line = `← answer ${name}: ${output}`;
    this.#o.out.write(`${error ? this.#paint('red', line) : this.#paint('bold', line)}\n`);
  }

  /** A failure the client itself detected (timeout, connection). Always on stderr. */
  failure(message: string): void {
    this.#endLine();
    this.#o.err.write(`${this.#paint('red', `✗ ${message}`)}\n`);
  }

  event(event: ServerEvent): void {
    if (this.#o.json) {
      this.#o.out.write(`${JSON.stringify(event)}\n`);
      return;
    }
    switch (event.type) {
      case 'session.created':
        this.note(`● session ${String(field(event, 'session', 'id') ?? '?')}`);
        return;
      case 'session.update': {
        const session = (field(event, 'session') ?? {}) as Record<string, unknown>;
        const settings = Object.entries(session)
          .filter(([k]) => k !== 'id')
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
        this.note(`● session updated${settings.length ? ` (${settings.join(', ')})` : ''}`);
        return;
      }
      case 'response.delta': {
        const content = field(event, 'response', 'delta', 'content');
        if (typeof content !== 'string' || content === '') return;
        if (this.#line === 'audio') this.#o.out.write('\n');
        if (this.#line !== 'text') this.#o.out.write(`${this.#paint('cyan', '<')} `);
        this.#o.out.write(content);
        this.#line = 'text';
        return;
      }
      case 'response.audio': {
        const audio = field(event, 'response', 'audio');
        if (typeof audio !== 'string') return;
        this.#audioBytes += Buffer.byteLength(audio, 'base64');
        // While text streams, the counter waits for the done line rather than breaking the sentence.
        if (this.#o.live && this.#line !== 'text') {
          this.#o.out.write(`\r\x1b[2K${this.#paint('dim', `♪ ${this.#audioSummary()}`)}`);
          this.#line = 'audio';
        }
        return;
      }
      case 'response.done': {
        this.#endLine();
        const input = field(event, 'response', 'usage', 'input_tokens');
        const output = field(event, 'response', 'usage', 'output_tokens');
        const cached = field(event, 'response', 'usage', 'input_token_details', 'cached_tokens');
        const parts = [this.#audioSummary()];
        if (typeof input === 'number' && typeof output === 'number')
          parts.push(
            `${input} in / ${output} out tokens${typeof cached === 'number' && cached > 0 ? ` (${cached} cached)` : ''}`,
          );
        this.#o.out.write(`${this.#paint('green', '✓ done')} ${this.#paint('dim', parts.join(', '))}\n`);
        this.#audioBytes = 0;
        return;
      }
      case 'error': {
        const code = field(event, 'error', 'code');
        const message = field(event, 'error', 'message');
        this.#endLine();
        this.#o.err.write(`${this.#paint('red', `✗ error ${String(code)}: ${String(message)}`)}\n`);
        return;
      }
      case 'pong':
        this.note('● pong');
        return;
      case 'response.function_call': {
        const name = field(event, 'response', 'name');
        const args = field(event, 'response', 'arguments');
        this.#endLine();
        this.#o.out.write(`${this.#paint('bold', `→ call ${String(name)}(${String(args)})`)}\n`);
        return;
      }
      case 'conversation.item.transcript': {
        // The pieces would break the reply's line; the final message has the whole text.
        if (field(event, 'conversation_item_transcript', 'final') !== true) return;
        const text = field(event, 'conversation_item_transcript', 'text');
        this.#endLine();
        this.#o.out.write(`${this.#paint('bold', '>')} ${this.#paint('dim', 'you said:')} ${String(text)}\n`);
        return;
      }
      default:
        this.note(`· ${event.type}`);
    }
  }
}
