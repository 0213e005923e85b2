// One client run: connect, optionally configure the session, send each input and wait for its reply.
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import type { ClientInput, ClientOptions } from './args.js';
import { type AudioInput, FRAME_MS, loadAudioInput, replyWav } from './audio.js';
import { EventPrinter, type Output, type ServerEvent } from './render.js';
import { answerCall, loadToolsFile, type ToolsConfig } from './tools.js';

export interface ClientIo {
  out: Output;
  err: Output;
  color: boolean;
  /** Redraw counters in place (a terminal). */
  live: boolean;
  /** Aborting (Ctrl-C) closes the socket and ends the run with exit code 130. */
  signal?: AbortSignal;
}

/** A failure that ends the run; its message is printed as is. */
class ClientFailure extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** The printer has shown it already (a server `error` event in readable mode). */
    readonly shown = false,
  ) {
    super(message);
  }
}

/** Resolves when `ws` is open; rejects with a readable reason when the connection fails. */
function opened(ws: WebSocket, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      const hint = res.statusCode === 401 || res.statusCode === 403 ? ' (check --token)' : '';
      reject(new ClientFailure(`${url} refused the WebSocket upgrade: HTTP ${res.statusCode}${hint}`));
      res.resume();
      ws.terminate();
    });
    ws.once('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'ECONNREFUSED' ? ' (is `npm start` running?)' : '';
      reject(new ClientFailure(`cannot connect to ${url}: ${err.code ?? err.message}${hint}`));
    });
  });
}

/** Tracks replies so an input knows when its turn is over. */
class Conversation {
  /** `response.done` events seen so far. */
  done = 0;
  /** A reply is streaming: deltas or audio arrived since the last `response.done`. */
  responding = false;
  /** `response.delta` and `response.audio` events received so far (the content of every reply). */
  content = 0;
  /** Follow-up replies asked for by answers to function calls and not done yet. */
  followUps = 0;
  audio: Buffer[] = [];
  /** Function calls of the reply in progress, answered at its `response.done`. */
  #calls: Array<{ callId: string; name: string }> = [];
  /** Call ids seen, so a call delivered twice is answered once. */
  readonly #seenCalls = new Set<string>();
  #failure: ClientFailure | undefined;
  #wake: (() => void) | undefined;
  #open = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly printer: EventPrinter,
    private readonly json: boolean,
    private readonly tools: ToolsConfig | undefined,
  ) {
    ws.once('open', () => {
      this.#open = true;
      // Printed here, not after `await opened()`, so it comes before the server's first event.
      printer.note(`connected to ${ws.url}`);
    });
    ws.on('message', (data, isBinary) => this.#receive(data as Buffer, isBinary));
    ws.on('close', (code, reason) => {
      // Before the upgrade completes, opened() reports the failure instead.
      if (!this.#open) return;
      const why = reason.length ? ` ${reason.toString()}` : '';
      this.fail(new ClientFailure(`connection closed by the server (${code}${why})`));
    });
    ws.on('error', (err) => {
      if (this.#open) this.fail(new ClientFailure(`connection error: ${err.message}`));
    });
  }

  fail(failure: ClientFailure): void {
    this.#failure ??= failure;
    this.#wake?.();
  }

  /** Throws the first failure, if any. */
  check(): void {
    if (this.#failure) throw this.#failure;
  }

  /** Resolves when `ready()` holds, rejects on failure or after `timeoutMs`. */
  async until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.check();
      if (ready()) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new ClientFailure(`no ${what} within ${timeoutMs / 1000} s (raise --timeout?)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  #receive(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      // The server sends JSON only; binary audio is a client → server extension.
      this.printer.note(`· binary frame (${data.length} bytes), ignored`);
      return;
    }
    let event: ServerEvent;
    try {
      event = JSON.parse(data.toString('utf8'));
    } catch {
      this.printer.failure(`server sent a frame that is not JSON: ${data.toString('utf8').slice(0, 80)}`);
      return;
    }
    this.printer.event(event);
    switch (event.type) {
      case 'response.delta':
        this.responding = true;
        this.content++;
        break;
      case 'response.audio': {
        const audio = (event.response as { audio?: unknown } | undefined)?.audio;
        if (typeof audio === 'string') this.audio.push(Buffer.from(audio, 'base64'));
        this.responding = true;
        this.content++;
        break;
      }
      case 'response.function_call': {
        const call = event.response as { call_id?: unknown; name?: unknown } | undefined;
        if (typeof call?.call_id !== 'string' || this.#seenCalls.has(call.call_id)) break;
        this.#seenCalls.add(call.call_id);
        this.#calls.push({ callId: call.call_id, name: String(call.name) });
        break;
      }
      case 'response.done': {
        // A reply the server gave up on is an error, whatever came before it.
        const status = (event.response as { status?: unknown } | undefined)?.status;
        if (status === 'failed') {
          this.fail(new ClientFailure('the reply failed (response.done status failed)'));
          return;
        }
        this.done++;
        this.responding = false;
        if (this.followUps > 0) this.followUps--;
        this.#answerCalls();
        break;
      }
      case 'error': {
        const err = event.error as { code?: unknown; message?: unknown } | undefined;
        this.fail(
          new ClientFailure(`server error ${String(err?.code)}: ${String(err?.message)}`, 1, !this.json),
        );
        return;
      }
    }
    this.#wake?.();
  }

  /**
   * Answers the finished reply's function calls from the tools file, in call order; the last answer asks
   * for the follow-up reply, which the turn then waits for.
   */
  #answerCalls(): void {
    const calls = this.#calls.splice(0);
    calls.forEach(({ callId, name }, i) => {
      const { output, error } = answerCall(this.tools, name);
      const respond = i === calls.length - 1;
      this.printer.toolAnswer(name, output, error);
      this.ws.send(
        itemInput({
          type: 'function_call_output',
          call_id: callId,
          output,
          ...(respond ? {} : { respond: false }),
        }),
      );
    });
    if (calls.length > 0) this.followUps++;
  }
}

function itemInput(input: Record<string, unknown>): string {
  return JSON.stringify({ type: 'conversation.item.input', conversation_item_input: input });
}

async function sendAudio(ws: WebSocket, audio: AudioInput, fast: boolean, conv: Conversation): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < audio.frames.length; i++) {
    if (!fast) {
      // Paced against the start time, not the previous frame, so timer jitter does not accumulate.
      const wait = start + i * FRAME_MS - performance.now();
      if (wait > 0) await sleep(wait);
    }
    conv.check();
    ws.send(itemInput({ type: 'input_audio_buffer', audio: audio.frames[i]!.toString('base64') }));
  }
}

async function sendInput(
  ws: WebSocket,
  input: ClientInput,
  options: ClientOptions,
  conv: Conversation,
  printer: EventPrinter,
): Promise<void> {
  const doneBefore = conv.done;
  const contentBefore = conv.content;
  if (input.kind === 'text') {
    printer.sent(input.text);
    ws.send(itemInput({ type: 'input_text', text: input.text }));
  } else {
    const audio = await loadAudioInput(input.path).catch((err: Error) => {
      throw new ClientFailure(err.message, 2);
    });
    const { sampleRate, channels } = audio.original;
    const converted =
      sampleRate !== 24000 || channels !== 1 ? `, from ${sampleRate} Hz × ${channels} ch` : '';
    printer.sent(
      `${input.path}: ${(audio.durationMs / 1000).toFixed(2)} s in ${audio.frames.length} frames incl. 1 s silence` +
        `${converted}${options.fast ? ', fast' : ', real time'}`,
    );
    await sendAudio(ws, audio, options.fast, conv);
  }
  // Server VAD may already have answered while audio was still going out; otherwise wait for the reply,
  // and for the follow-up replies to the answers of its function calls.
  await conv.until(
    () => conv.done > doneBefore && !conv.responding && conv.followUps === 0,
    options.timeoutMs,
    'response.done',
  );
  if (options.requireReply && conv.content === contentBefore)
    throw new ClientFailure('the reply had neither text nor audio (--require-reply)');
}

/** Runs the client and resolves with the process exit code (0 ok, 1 failure, 2 bad input, 130 interrupted). */
export async function runClient(options: ClientOptions, io: ClientIo): Promise<number> {
  const printer = new EventPrinter({
    out: io.out,
    err: io.err,
    color: io.color,
    live: io.live,
    json: options.json,
  });
  let ws: WebSocket | undefined;
  let conv: Conversation | undefined;
  const interrupted = new ClientFailure('interrupted', 130);
  const onAbort = () => {
    conv?.fail(interrupted);
    ws?.terminate();
  };
  io.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const tools = options.toolsFile
      ? await loadToolsFile(options.toolsFile).catch((err: Error) => {
          throw new ClientFailure(err.message, 2);
        })
      : undefined;
    const headers = options.token ? { authorization: `Bearer ${options.token}` } : undefined;
    ws = new WebSocket(options.url, { headers, handshakeTimeout: options.timeoutMs });
    // Listen before the upgrade completes: the server's first frame can arrive with the 101 response.
    conv = new Conversation(ws, printer, options.json, tools);
    await opened(ws, options.url);
    const { voice, language, instructions } = options;
    const update = Object.fromEntries(
      Object.entries({
        voice,
        language,
        instructions,
        tools: tools?.tools,
        tool_choice: tools?.toolChoice,
      }).filter(([, v]) => v !== undefined),
    );
    if (Object.keys(update).length > 0) {
      ws.send(JSON.stringify({ type: 'session.update', session_update: update }));
    }
    for (const input of options.inputs) await sendInput(ws, input, options, conv, printer);
    return 0;
  } catch (caught) {
    // Terminating a socket that is still connecting surfaces as a connect error: report the abort instead.
    const err = io.signal?.aborted ? interrupted : caught;
    if (err instanceof ClientFailure) {
      if (!err.shown) printer.failure(err.message);
      return err.exitCode;
    }
    printer.failure(`unexpected: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    if (ws && ws.readyState === WebSocket.OPEN) {
      const socket = ws;
      // A peer that never answers the close frame must not keep the process alive (ws waits 30 s).
      const timer = setTimeout(() => socket.terminate(), 1000);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.close(1000, 'done');
      await closed;
      clearTimeout(timer);
    }
    if (options.out && conv && conv.audio.length > 0) {
      await writeFile(options.out, replyWav(conv.audio));
      printer.note(`wrote ${options.out}`);
    } else if (options.out) {
      printer.note(`no audio received; ${options.out} not written`);
    }
  }
}
