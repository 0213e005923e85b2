import type { EventEmitter } from 'node:events';
import {
  GA_TO_BETA_EVENT,
  REALTIME_CLIENT_EVENT_TYPES,
  type RealtimeApiShape,
} from '@rtv/protocol/openai-realtime';
import { WebSocket } from 'ws';
import { pcmDurationMs } from './audio.js';
import { Conversation, parseItem, renderItem, type StoredItem } from './conversation.js';
import { canonicalAppendAudio, EchoFrames } from './echo.js';
import { RequestError } from './errors.js';
import { newId } from './ids.js';
import { InputAudioBuffer } from './input-buffer.js';
import { composeReply, describeAudio, planToolCall } from './reply.js';
import { type ResponseHost, type ResponsePlan, ResponseRun } from './response.js';
import { parseResponseParams } from './response-params.js';
import {
  applyBetaUpdate,
  applyGaUpdate,
  defaultSession,
  renderBetaSession,
  type SessionState,
} from './session-config.js';
import type { Synthesizer } from './tts.js';
import { countInput, textTokens, total, transcriptionUsage } from './usage.js';
import { EnergyVad, type VadEvent, vadOptions } from './vad.js';
import {
  expectNumber,
  expectString,
  invalidValue,
  isRecord,
  type Json,
  missing,
  rejectUnknown,
} from './validate.js';

/** An error to inject into the next response (see `LocalEngine.failNextResponse`). */
export interface InjectedError {
  type: string;
  code: string;
  message: string;
}

/** Engine-wide settings and services a connection uses. */
export interface ConnectionContext {
  shape: RealtimeApiShape;
  mode: 'speech' | 'echo';
  realtime: boolean;
  model: string;
  maxSessionMs: number;
  synthesizer: Synthesizer;
  events: EventEmitter;
  takeInjectedFailure(): InjectedError | null;
}

/** A client that stops reading gets cut off rather than growing the send buffer without bound. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** Out-of-band responses (`conversation: "none"`) that may run at once beside the default one. */
const MAX_OUT_OF_BAND = 8;
const MIN_COMMIT_MS = 100;
/** setTimeout fires at once above 2^31−1 ms; longer sessions simply never expire. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Handler = (event: Json) => void;

/** One upstream session: protocol state machine for a single WebSocket. */
export class EngineConnection implements ResponseHost {
  readonly conversation = new Conversation();
  /** Canonical GA-shaped session; beta clients see a projection of it. */
  private state: SessionState;
  private readonly input = new InputAudioBuffer();
  private vad: EnergyVad | null = null;
  /** Item id announced by `speech_started`, used by the commit that ends the turn. */
  private turnItemId: string | null = null;
  /** The one response allowed to write to the default conversation at a time. */
  private active: ResponseRun | null = null;
  private readonly outOfBand = new Set<ResponseRun>();
  /** Prompt size of the previous response: the cached prefix of the next one. */
  private previousInputTokens = 0;
  private expiry: NodeJS.Timeout | null = null;
  private readonly echo: EchoFrames;
  private readonly handlers: Record<string, Handler>;

  /** `id` is the session id (`sess_…`), also the connection id reported to tests. */
  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ConnectionContext,
    readonly id: string = newId('sess'),
  ) {
    const expiresAt = Math.floor((Date.now() + ctx.maxSessionMs) / 1000);
    this.state = defaultSession(this.id, ctx.model, expiresAt);
    this.echo = new EchoFrames(ctx.shape);
    this.handlers = {
      'session.update': (e) => this.sessionUpdate(e),
      'input_audio_buffer.append': (e) => this.append(e),
      'input_audio_buffer.commit': (e) => this.commit(e),
      'input_audio_buffer.clear': (e) => this.clear(e),
      'conversation.item.create': (e) => this.createItem(e),
      'conversation.item.truncate': (e) => this.truncate(e),
      'conversation.item.delete': (e) => this.deleteItem(e),
      'conversation.item.retrieve': (e) => this.retrieve(e),
      'response.create': (e) => this.createResponse(e),
      'response.cancel': (e) => this.cancelResponse(e),
      'session.close': () => this.ws.close(1000, 'OK'),
      'session.input_audio_buffer.append': () => {
        throw new RequestError(
          'invalid_value',
          'This event is only supported in translation sessions.',
          'type',
        );
      },
    };
  }

  get shape(): RealtimeApiShape {
    return this.ctx.shape;
  }

  get realtime(): boolean {
    return this.ctx.realtime;
  }

  /** Sends `session.created` and starts the session clock. */
  start(): void {
    this.rebuildVad();
    this.send('session.created', { session: this.renderSession() });
    if (this.ctx.maxSessionMs <= MAX_TIMER_MS) {
      this.expiry = setTimeout(() => this.expire(), this.ctx.maxSessionMs);
    }
  }

  /** The socket closed: stop every timer; nothing more is sent. */
  dispose(): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.active?.dispose();
    for (const run of this.outOfBand) run.dispose();
    this.active = null;
    this.outOfBand.clear();
  }

  /** Sends one server event, named in GA terms; beta connections get the old name (or nothing). */
  send(type: string, payload: Json): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    let name = type;
    if (this.ctx.shape === 'beta' && type in GA_TO_BETA_EVENT) {
      const mapped = GA_TO_BETA_EVENT[type as keyof typeof GA_TO_BETA_EVENT];
      if (!mapped) return;
      name = mapped;
    }
    this.write(JSON.stringify({ type: name, event_id: newId('event'), ...payload }));
  }

  renderItem(item: StoredItem): Json {
    return renderItem(item, this.ctx.shape);
  }

  synthesize(text: string, voice: string, speed: number): Promise<Buffer> {
    return this.ctx.synthesizer.synthesize(text, voice, speed);
  }

  finished(run: ResponseRun): void {
    if (this.active === run) {
      this.active = null;
      this.vad?.armIdle();
    }
    this.outOfBand.delete(run);
  }

  /** Handles one WebSocket message. Every failure becomes a non-fatal `error` event. */
  handleMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.sendError(
        new RequestError(
          'invalid_event',
          'Expected a text WebSocket message; binary frames are not supported.',
        ),
        null,
      );
      return;
    }
    const text = data.toString('utf8');
    const echoed = this.ctx.mode === 'echo' ? canonicalAppendAudio(text) : null;
    if (echoed !== null) {
      if (this.ctx.events.listenerCount('client-event') > 0) {
        this.ctx.events.emit('client-event', this.id, { type: 'input_audio_buffer.append', audio: echoed });
      }
      this.write(this.echo.frame(echoed));
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch {
      this.sendError(
        new RequestError(
          'invalid_json',
          'Invalid event: failed to parse JSON value. Expected a JSON object.',
        ),
        null,
      );
      return;
    }
    if (!isRecord(event)) {
      this.sendError(new RequestError('invalid_event', 'Invalid event: expected a JSON object.'), null);
      return;
    }
    this.ctx.events.emit('client-event', this.id, event);
    const clientEventId = typeof event.event_id === 'string' ? event.event_id : null;
    try {
      if (event.type === undefined) throw new RequestError('invalid_event', "The 'type' field is missing.");
      const handler = typeof event.type === 'string' ? this.handlers[event.type] : undefined;
      if (!handler) throw invalidValue(event.type, 'type', REALTIME_CLIENT_EVENT_TYPES);
      handler(event);
    } catch (err) {
      // A bug in the engine must not take the socket down: report it as the provider reports its own.
      const message = 'The server had an error while processing your request. Sorry about that!';
      const error =
        err instanceof RequestError ? err : new RequestError('server_error', message, null, 'server_error');
      this.sendError(error, clientEventId);
    }
  }

  /** Every frame goes through here, so the send-buffer bound holds for deltas and echo alike. */
  private write(frame: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.ws.terminate();
      return;
    }
    this.ws.send(frame);
  }

  /**
   * §9.1 shape. The inner `event_id` is the failing client event's own id (null when it had none); the
   * outer one is a fresh server id like every server event's.
   */
  private sendError(err: RequestError, clientEventId: string | null): void {
    this.send('error', {
      error: {
        type: err.errorType,
        code: err.code,
        message: err.message,
        param: err.param,
        event_id: clientEventId,
      },
    });
  }

  private renderSession(): Json {
    return (this.ctx.shape === 'beta'
      ? renderBetaSession(this.state)
      : this.state.session) as unknown as Json;
  }

  /** Maximum duration reached: the provider sends `session_expired`, then closes 1001 with the same text. */
  private expire(): void {
    const ms = this.ctx.maxSessionMs;
    const span = ms % 60_000 === 0 ? `${ms / 60_000} minutes` : `${ms / 1000} seconds`;
    const message = `Your session hit the maximum duration of ${span}.`;
    this.send('error', {
      error: { type: 'invalid_request_error', code: 'session_expired', message, param: null, event_id: null },
    });
    this.ws.close(1001, message);
  }

  // -------------------------------------------------------------------------------------------------------
  // Session and input audio
  // -------------------------------------------------------------------------------------------------------

  /**
   * `session.update`: validated whole before anything changes; the reply carries the full effective session
   * (never an echo of the request). A changed turn detection restarts the detector.
   */
  private sessionUpdate(event: Json): void {
    rejectUnknown(event, ['type', 'event_id', 'session'], '');
    if (event.session === undefined) throw missing('session');
    const ctx = { assistantAudioPresent: this.assistantAudioPresent() };
    const before = JSON.stringify(this.state.session.audio.input.turn_detection);
    this.state =
      this.ctx.shape === 'ga'
        ? applyGaUpdate(this.state, event.session, ctx)
        : applyBetaUpdate(this.state, event.session, ctx);
    if (JSON.stringify(this.state.session.audio.input.turn_detection) !== before) this.rebuildVad();
    this.send('session.updated', { session: this.renderSession() });
  }

  private assistantAudioPresent(): boolean {
    return this.conversation
      .list()
      .some((i) => i.type === 'message' && i.content.some((p) => p.type === 'output_audio' && p.audioMs > 0));
  }

  /** (Re)creates the detector for the current turn detection; echo mode never runs one. */
  private rebuildVad(): void {
    const td = this.state.session.audio.input.turn_detection;
    this.turnItemId = null;
    if (!td || this.ctx.mode === 'echo') {
      this.vad = null;
      return;
    }
    this.vad = new EnergyVad(vadOptions(td), this.input.timelineMs);
  }

  /** `input_audio_buffer.append`: never acknowledged; it may produce VAD events as a side effect. */
  private append(event: Json): void {
    rejectUnknown(event, ['type', 'event_id', 'audio'], '');
    if (event.audio === undefined) throw missing('audio');
    const audio = expectString(event.audio, 'audio');
    if (this.ctx.mode === 'echo') {
      this.write(this.echo.frame(audio));
      return;
    }
    const pcm = Buffer.from(audio, 'base64');
    this.input.append(pcm);
    if (this.vad) for (const detected of this.vad.push(pcm)) this.onVad(detected);
  }

  /**
   * Server VAD, §8.2: speech_started (barge-in cancels the active response when `interrupt_response`),
   * then speech_stopped or an idle timeout, which commits the buffer and, with `create_response`, answers.
   */
  private onVad(event: VadEvent): void {
    const td = this.state.session.audio.input.turn_detection!;
    if (event.type === 'speech_started') {
      this.turnItemId = newId('item');
      this.send('input_audio_buffer.speech_started', {
        audio_start_ms: event.audioStartMs,
        item_id: this.turnItemId,
      });
      // Barge-in: the cancelled response closes its open parts before its response.done.
      if (td.interrupt_response && this.active) this.active.cancel('turn_detected');
      return;
    }
    const itemId = this.turnItemId ?? newId('item');
    this.turnItemId = null;
    if (event.type === 'speech_stopped') {
      this.send('input_audio_buffer.speech_stopped', { audio_end_ms: event.audioEndMs, item_id: itemId });
    } else {
      this.send('input_audio_buffer.timeout_triggered', {
        audio_start_ms: event.audioStartMs,
        audio_end_ms: event.audioEndMs,
        item_id: itemId,
      });
    }
    const committed = this.input.durationMs >= MIN_COMMIT_MS;
    if (committed) this.commitBuffer(itemId);
    // An idle timeout answers even without new audio; a speech turn only once it became an item.
    if (!td.create_response || this.active || !(committed || event.type === 'timeout')) return;
    this.startResponse(parseResponseParams(undefined, this.ctx.shape, this.state, this.conversation));
  }

  /** Manual `input_audio_buffer.commit`: needs 100 ms; creates the user item but never a response. */
  private commit(event: Json): void {
    rejectUnknown(event, ['type', 'event_id'], '');
    const ms = this.input.durationMs;
    if (ms < MIN_COMMIT_MS) {
      throw new RequestError(
        'input_audio_buffer_commit_empty',
        `Error committing input audio buffer: buffer too small. Expected at least ${MIN_COMMIT_MS}ms of audio, but buffer only has ${ms.toFixed(2)}ms of audio.`,
      );
    }
    const itemId = this.turnItemId ?? newId('item');
    this.turnItemId = null;
    this.vad?.reset();
    this.commitBuffer(itemId);
  }

  /** committed → item added/done (beta: item.created), reusing the id that speech_started announced. */
  private commitBuffer(itemId: string): void {
    const pcm = this.input.take();
    const audioMs = pcmDurationMs(pcm.length);
    const item: StoredItem = {
      id: itemId,
      type: 'message',
      role: 'user',
      status: 'completed',
      content: [{ type: 'input_audio', transcript: null, audioMs, audio: pcm }],
    };
    const previous = this.conversation.insert(item);
    this.send('input_audio_buffer.committed', { previous_item_id: previous, item_id: item.id });
    this.announceItem(item, previous);
    const transcription = this.state.session.audio.input.transcription;
    if (transcription) this.transcribe(item, audioMs, transcription.model ?? 'whisper-1');
  }

  /**
   * Input transcription stand-in (§8.2): the engine has no recogniser, so the "transcript" states the
   * duration of the committed audio, `[speech 2.34 s]` (see {@link describeAudio}), streamed as word deltas
   * and then `.completed`, right after the item's `conversation.item.done`. The stored item gets the
   * transcript too (as `conversation.item.retrieve` shows upstream), flagged so replies still answer audio.
   */
  private transcribe(item: StoredItem, audioMs: number, model: string): void {
    const transcript = describeAudio(audioMs);
    const part = item.type === 'message' ? item.content[0] : undefined;
    if (part?.type === 'input_audio') {
      part.transcript = transcript;
      part.standIn = true;
    }
    const locator = { item_id: item.id, content_index: 0 };
    for (const delta of transcript.match(/\s*\S+/g) ?? []) {
      this.send('conversation.item.input_audio_transcription.delta', { ...locator, delta });
    }
    const usage = transcriptionUsage(model, audioMs, transcript);
    this.send('conversation.item.input_audio_transcription.completed', { ...locator, transcript, usage });
  }

  /** Drops uncommitted audio and any turn in progress; the appended-audio timeline keeps counting. */
  private clear(event: Json): void {
    rejectUnknown(event, ['type', 'event_id'], '');
    this.input.clear();
    this.vad?.reset();
    this.turnItemId = null;
    this.send('input_audio_buffer.cleared', {});
  }

  // -------------------------------------------------------------------------------------------------------
  // Conversation items
  // -------------------------------------------------------------------------------------------------------

  /** GA announces an item with `.added` then `.done`; beta with one `conversation.item.created`. */
  private announceItem(item: StoredItem, previous: string | null): void {
    const rendered = this.renderItem(item);
    this.send('conversation.item.added', { previous_item_id: previous, item: rendered });
    this.send('conversation.item.done', { previous_item_id: previous, item: rendered });
  }

  /** `conversation.item.create`, incl. `function_call_output`; `previous_item_id: "root"` inserts first. */
  private createItem(event: Json): void {
    rejectUnknown(event, ['type', 'event_id', 'previous_item_id', 'item'], '');
    if (event.item === undefined) throw missing('item');
    const item = parseItem(event.item, this.ctx.shape);
    const anchor = event.previous_item_id;
    const previous = this.conversation.insert(
      item,
      anchor === undefined || anchor === null ? anchor : expectString(anchor, 'previous_item_id'),
    );
    this.announceItem(item, previous);
  }

  private itemId(event: Json): string {
    if (event.item_id === undefined) throw missing('item_id');
    return expectString(event.item_id, 'item_id');
  }

  /** `conversation.item.truncate`: the client reports how much assistant audio was actually played. */
  private truncate(event: Json): void {
    rejectUnknown(event, ['type', 'event_id', 'item_id', 'content_index', 'audio_end_ms'], '');
    const id = this.itemId(event);
    if (event.content_index === undefined) throw missing('content_index');
    if (event.audio_end_ms === undefined) throw missing('audio_end_ms');
    const index = expectNumber(event.content_index, 'content_index', { min: 0, integer: true });
    const endMs = expectNumber(event.audio_end_ms, 'audio_end_ms', { min: 0, integer: true });
    this.conversation.truncateAudio(id, index, endMs);
    this.send('conversation.item.truncated', { item_id: id, content_index: index, audio_end_ms: endMs });
  }

  private deleteItem(event: Json): void {
    rejectUnknown(event, ['type', 'event_id', 'item_id'], '');
    const id = this.itemId(event);
    this.conversation.remove(id);
    this.send('conversation.item.deleted', { item_id: id });
  }

  /** `conversation.item.retrieve`: the only reply that carries audio bytes inside an item. */
  private retrieve(event: Json): void {
    rejectUnknown(event, ['type', 'event_id', 'item_id'], '');
    const item = this.conversation.require(this.itemId(event));
    this.send('conversation.item.retrieved', { item: renderItem(item, this.ctx.shape, true) });
  }

  // -------------------------------------------------------------------------------------------------------
  // Responses
  // -------------------------------------------------------------------------------------------------------

  /**
   * `response.create`. Only one response may write to the default conversation; a refused request gets an
   * error and no `response.created`. Out-of-band responses (`conversation: "none"`) run beside it.
   */
  private createResponse(event: Json): void {
    rejectUnknown(event, ['type', 'event_id', 'response'], '');
    const params = parseResponseParams(event.response, this.ctx.shape, this.state, this.conversation);
    if (params.conversation === 'auto' && this.active) {
      throw new RequestError(
        'conversation_already_has_active_response',
        `Conversation already has an active response in progress: ${this.active.id}. Wait until the response is finished before creating a new one.`,
      );
    }
    if (params.conversation === 'none' && this.outOfBand.size >= MAX_OUT_OF_BAND) {
      throw new RequestError(
        'too_many_active_responses',
        `At most ${MAX_OUT_OF_BAND} out-of-band responses can run at once.`,
      );
    }
    this.startResponse(params);
  }

  /** Decides the plan (injected failure, tool call or reply) from the context and starts the run. */
  private startResponse(params: ReturnType<typeof parseResponseParams>): void {
    const injected = this.ctx.takeInjectedFailure();
    const call = injected ? null : planToolCall(params.tools, params.toolChoice, params.items);
    const plan: ResponsePlan = injected
      ? { kind: 'failed', error: injected }
      : call
        ? { kind: 'function_call', ...call }
        : { kind: 'message', text: composeReply(params.items) };
    const input = countInput(params.instructions, params.tools, params.items);
    // Prompt caching: what the previous response sent is a cached prefix of this one.
    const cachedPrefix = this.previousInputTokens || textTokens(params.instructions);
    this.previousInputTokens = total(input);
    const run = new ResponseRun(this, { ...params, plan, input, cachedPrefix });
    if (run.inConversation) this.active = run;
    else this.outOfBand.add(run);
    run.start();
  }

  /** `response.cancel`: the default response unless `response_id` names an out-of-band one. */
  private cancelResponse(event: Json): void {
    rejectUnknown(event, ['type', 'event_id', 'response_id'], '');
    const id = event.response_id === undefined ? null : expectString(event.response_id, 'response_id');
    const target =
      id === null || this.active?.id === id ? this.active : [...this.outOfBand].find((r) => r.id === id);
    if (!target?.cancel('client_cancelled')) {
      throw new RequestError('response_cancel_not_active', 'Cancellation failed: no active response found');
    }
  }
}
