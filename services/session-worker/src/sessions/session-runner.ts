import type { HistoryItem, SessionState } from '@rtv/bus';
import {
  type ClientMessage,
  type ClientSessionUpdate,
  type ConversationItemInput,
  type ErrorCode,
  encodeError,
  encodeNotice,
  encodeSessionUpdate,
  FrameKind,
  NoticeCode,
  type SessionConfig,
} from '@rtv/protocol';
import {
  buildAudioAppend,
  buildBareEvent,
  buildFunctionCallOutput,
  buildResponseCreate,
  buildTextTurn,
  buildTruncate,
  restorableHistory,
} from '../upstream/provider-events.js';
import type { ProviderFailure } from '../upstream/provider-failure.js';
import { ProviderSession, type ProviderSessionOptions } from '../upstream/provider-session.js';
import { BusSession, type BusSessionDeps, type EndReason } from './bus-session.js';
import { ConfigUpdates, type PendingUpdate, sessionInfo } from './config-updates.js';
import { HistoryLog } from './history-log.js';
import { ProviderEventTranslator } from './provider-event-translator.js';
import { ProviderRequests } from './provider-requests.js';
import { ToolCalls } from './tool-calls.js';
import { DEFAULT_TURN_HOLD_MAX_BYTES, TurnHold } from './turn-hold.js';
import { type Turn, TurnQueue } from './turn-queue.js';

export type { EndReason } from './bus-session.js';

export interface SessionRunnerDeps extends BusSessionDeps {
  provider: Omit<
    ProviderSessionOptions,
    'onEvent' | 'onUnavailable' | 'onReconnecting' | 'log' | 'context' | 'metrics' | 'onConnect'
  >;
  /**
   * Persists a conversation item (capped list with TTL). When it returns a promise, a function call is
   * announced to the client only after it settled (stored, or failed and logged).
   */
  appendHistory: (sid: string, item: HistoryItem) => void | Promise<void>;
  /** Reads the conversation so far, to restore it into a fresh provider session. */
  loadHistory: (sid: string) => Promise<HistoryItem[]>;
  /** Persists the effective config once the provider accepted a client session.update. */
  saveConfig: (sid: string, config: SessionConfig) => void;
  /** `framesToProvider{type="audio"}`, bound once: it is counted on every audio frame. */
  audioFramesToProvider: { inc(): void };
  /** `upstreamEvents{type="response.output_audio.delta"}`, bound once (the fast path skips parsing). */
  audioDeltaEvents: { inc(): void };
  /**
   * Which provider `provider` is. With Azure OpenAI the configured deployment serves every session (a client's
   * model name, on the OpenAI-compatible route, is not an Azure deployment).
   */
  providerKind?: 'local-engine' | 'openai' | 'azure';
  /** Told whether each provider connect attempt succeeded (published in the heartbeat). */
  onProviderConnect?: (ok: boolean, failure?: ProviderFailure) => void;
}

/**
 * One live session on this worker: applies the gateway's numbered client frames in order (dropping repeats),
 * talks to the provider through a `ProviderSession` (which reconnects and renews with the context restored),
 * and sends public-protocol messages back through the gateway's stream, stamped with this owner's epoch and a
 * per-session seq. Keeps recent server frames for resume. `done` resolves when the session ends; the BullMQ job
 * (the lease) ends with it.
 *
 * The provider's events are translated by a {@link ProviderEventTranslator}; client `session.update`s go
 * through {@link ConfigUpdates} (committed only once the provider accepted them), user turns through a
 * {@link TurnQueue} (a text sent during a reply waits for it), function calls through {@link ToolCalls}
 * (announced once, results applied once), and the conversation history through a {@link HistoryLog}.
 */
export class SessionRunner extends BusSession {
  private readonly provider: ProviderSession;
  private readonly requests = new ProviderRequests();
  private readonly toolCalls = new ToolCalls();
  private readonly history: HistoryLog;
  private readonly turns: TurnQueue;
  private readonly configs: ConfigUpdates;
  private readonly translator: ProviderEventTranslator;
  /** Provider events held while a function call is being stored (see `onProviderEvent`). */
  private readonly held: Array<[Buffer, string]> = [];
  private holding = false;
  /** The history read before a takeover's bind, used by the first provider restore. */
  private preloaded: HistoryItem[] | undefined;
  /** Seqs of the client text frames a previous owner sent on (from the history): replays of them are skipped. */
  private readonly answeredTexts = new Set<number>();
  /** The audio frames of the user's uncommitted turn: not acknowledged, so a next owner gets them again. */
  private readonly turnHold: TurnHold;
  /** The client was told that audio is being dropped while the provider connects (reset once it is ready). */
  private toldAudioDropped = false;
  /** The client was told `upstream_reconnecting` and not yet `upstream_recovered`. */
  private toldReconnecting = false;

  constructor(
    state: SessionState,
    private readonly deps: SessionRunnerDeps,
  ) {
    super(state, deps);
    this.history = new HistoryLog((item) => this.writeHistory(item));
    this.turns = new TurnQueue((turn) => this.startTurn(turn));
    this.turnHold = new TurnHold({
      maxBytes: deps.provider.uncommittedTurnMaxBytes ?? DEFAULT_TURN_HOLD_MAX_BYTES,
    });
    this.configs = new ConfigUpdates({
      shape: deps.provider.shape,
      committed: () => this.state.config,
      send: (raw) => this.provider.send(raw),
      tag: (clientEventId) =>
        this.requests.next({ kind: 'config', ...(clientEventId !== undefined ? { clientEventId } : {}) }),
      commit: (update) => this.commitConfig(update),
    });
    this.translator = this.createTranslator();
    this.provider = this.createProviderSession();
  }

  /**
   * Binds the session at its gateway (unless the client is detached), then opens the provider session. A
   * takeover (epoch > 1) first reads the history (so a function result the gateway replays is recognised as
   * applied), restores the conversation and tells the client it recovered.
   */
  /** Bytes of the user turn in progress this session keeps for a fresh provider session (for the gauge). */
  uncommittedTurnBytes(): number {
    return this.provider.uncommittedTurnBytes();
  }

  async start(): Promise<void> {
    const takeover = this.state.epoch > 1;
    if (takeover) await this.preloadHistory();
    if (this.ended) return;
    this.attachOrWait();
    const ok = await this.provider.open(takeover);
    if (!ok || this.ended) return;
    if (takeover) this.notify('session_recovered');
  }

  /** One client frame, in seq order (see `ClientFrameOrder`). */
  protected applyFrame(_seq: number, kind: FrameKind, payload: Buffer): void {
    if (kind === FrameKind.Audio) {
      this.sendAudio(payload);
      return;
    }
    let msg: ClientMessage;
    try {
      msg = JSON.parse(payload.toString()) as ClientMessage;
    } catch {
      this.deps.log.warn({ sid: this.sid }, 'unparseable JSON frame from the gateway dropped');
      return;
    }
    this.deps.metrics.framesToProvider.inc({ type: msg.type });
    this.dispatch(msg);
    if (this.turnHold.clientSent(msg.type)) this.ackTurnEnd();
  }

  /**
   * Audio that would take the provider queue past its byte budget while the provider connects is dropped, and
   * the client is told once per connect (not once per frame: audio comes 10–50 times a second).
   */
  private sendAudio(base64: string | Buffer): void {
    this.turnHold.audio(this.appliedSeq, base64.length, this.state.config.turn_detection !== null);
    if (this.provider.offer(buildAudioAppend(base64))) {
      this.deps.audioFramesToProvider.inc();
      return;
    }
    this.deps.metrics.droppedFrames.inc({ reason: 'provider_queue_full' });
    if (this.toldAudioDropped) return;
    this.toldAudioDropped = true;
    this.emit(encodeError('rate_limited', AUDIO_DROPPED_MESSAGE));
  }

  /**
   * The highest client seq that may be acknowledged and saved: everything applied, except that a text turn still
   * waiting for the reply in progress has not reached the provider yet, and the audio of the user's uncommitted
   * turn lives only in a provider session that dies with this worker (see {@link TurnHold}). Progress stops just
   * before either, so if this worker dies the gateway replays them to the next owner (which skips texts it
   * already answered; the uncommitted audio got no answer yet).
   */
  override get ackableSeq(): number {
    const waiting = this.turns.oldestWaitingSeq();
    return this.turnHold.ackable(
      waiting === undefined ? this.appliedSeq : Math.min(this.appliedSeq, waiting - 1),
    );
  }

  /**
   * A user turn ended, so its audio's frames may be acknowledged: at once, not at the next checkpoint. The ack
   * goes to the gateway's stream before anything this worker sends about the turn (its answer follows the turn's
   * end), so a client that got any of the answer has a gateway that no longer holds the turn to replay to a next
   * owner, which would answer it again. The session record's seq catches up at the next checkpoint.
   */
  private ackTurnEnd(): void {
    this.ackNow();
  }

  protected onEnd(reason: EndReason): void {
    this.provider.close();
    this.history.close(reason === 'handoff');
  }

  protected encodeClientError(code: ErrorCode, message?: string): string {
    return encodeError(code, message);
  }

  protected encodeClientNotice(code: NoticeCode, message: string = NoticeCode[code].message): string {
    return encodeNotice(code, message);
  }

  private createTranslator(): ProviderEventTranslator {
    const { deps } = this;
    return new ProviderEventTranslator({
      sid: this.sid,
      model: deps.provider.model,
      metrics: deps.metrics,
      log: deps.log,
      audioDeltaEvents: deps.audioDeltaEvents,
      emit: (payload) => this.emit(payload),
      emitAudio: (audio, timestamp) => this.emitAudio(audio, timestamp),
      history: this.history,
      toolCalls: this.toolCalls,
      turns: this.turns,
      configs: this.configs,
      requests: this.requests,
      responding: () => this.provider.responding,
      transcriptionOn: () => this.state.config.input_audio_transcription !== null,
    });
  }

  private createProviderSession(): ProviderSession {
    const { deps } = this;
    return new ProviderSession({
      ...deps.provider,
      log: deps.log.child({ sid: this.state.sid }),
      metrics: deps.metrics,
      // Created right after the claim: the session's start on this worker (`rtv_worker_provider_ready_seconds`).
      startedAt: performance.now(),
      onConnect: (ok: boolean, failure?: ProviderFailure) => {
        if (ok) this.onProviderReady();
        deps.onProviderConnect?.(ok, failure);
      },
      onEvent: (raw, head) => this.onProviderEvent(raw, head),
      onReconnecting: () => this.onProviderLost(),
      onUnavailable: (failure?: ProviderFailure) => this.fail(failure),
      context: (withHistory) => this.providerContext(withHistory),
    });
  }

  /**
   * The context a fresh provider session starts from: the config in effect and the restorable history. A
   * brand-new session has no history: its first provider session opens without reading it from Redis.
   */
  private async providerContext(
    withHistory: boolean,
  ): Promise<{ config: SessionConfig; history: HistoryItem[] }> {
    const history = this.preloaded ?? (withHistory ? await this.deps.loadHistory(this.sid) : []);
    this.preloaded = undefined;
    this.toolCalls.remember(history);
    return { config: this.state.config, history: restorableHistory(history) };
  }

  private async preloadHistory(): Promise<void> {
    try {
      this.preloaded = await this.deps.loadHistory(this.sid);
      this.toolCalls.remember(this.preloaded);
      for (const item of this.preloaded) {
        if (item.type === 'text' && item.seq !== undefined) this.answeredTexts.add(item.seq);
      }
    } catch (err) {
      this.deps.log.warn({ sid: this.sid, err: (err as Error).message }, 'history read before bind failed');
    }
  }

  /** A provider session is (re)opened and restored: updates and turns waiting for it go out. */
  private onProviderReady(): void {
    this.toldAudioDropped = false;
    this.turnHold.providerReady();
    if (this.toldReconnecting) {
      this.toldReconnecting = false;
      this.emit(encodeNotice('upstream_recovered', NoticeCode.upstream_recovered.message));
    }
    this.configs.providerConnected();
    this.turns.drain();
  }

  /** The provider socket dropped (or the provider ended the session at its time cap): reconnecting. */
  private onProviderLost(): void {
    this.turnHold.providerLost();
    this.configs.providerLost();
    this.turns.lost();
    // A renewal after `session_expired` restores the context like any reconnect, but is no news to the client.
    if (this.translator.takeExpired()) return;
    // Once per outage: the provider session retries within its budget without telling the runner again.
    if (this.toldReconnecting) return;
    this.toldReconnecting = true;
    this.emit(encodeNotice('upstream_reconnecting', NoticeCode.upstream_reconnecting.message));
  }

  private dispatch(msg: ClientMessage): void {
    const eventId = msg.event_id;
    switch (msg.type) {
      case 'session.update':
        this.requestConfig(msg, eventId);
        return;
      case 'conversation.item.input':
        this.applyInput(msg.conversation_item_input, eventId);
        return;
      case 'input_audio_buffer.commit':
        this.provider.send(buildBareEvent('input_audio_buffer.commit', this.requests.nextIfTagged(eventId)));
        return;
      case 'response.create':
        // The client asks itself: while a reply is in progress that is `conversation_busy` (documented).
        if (this.turns.busy) this.emit(encodeError('conversation_busy', BUSY_MESSAGE, undefined, eventId));
        else this.turns.submit({ kind: 'respond', explicit: true, ...withEventId(eventId) });
        return;
      case 'response.cancel':
        this.provider.send(buildBareEvent('response.cancel', this.requests.nextIfTagged(eventId)));
        return;
      case 'response.truncate': {
        // Only meaningful once the model has spoken; the provider reports a too-long audio_end_ms itself.
        const itemId = this.translator.lastAssistantItemId;
        if (itemId !== undefined) {
          this.provider.send(buildTruncate(itemId, msg.audio_end_ms, this.requests.nextIfTagged(eventId)));
        }
        return;
      }
      default:
        return;
    }
  }

  private requestConfig(msg: ClientSessionUpdate, eventId: string | undefined): void {
    if (!this.configs.request(msg.session_update, eventId)) {
      this.emit(
        encodeError(
          'rate_limited',
          'Too many session.update requests are waiting for the speech model; wait for their replies',
          undefined,
          eventId,
        ),
      );
    }
  }

  /** The provider accepted a client's update: it is now in effect, stored (for any later owner), reported. */
  private commitConfig(update: PendingUpdate): void {
    this.state.config = update.config;
    this.deps.saveConfig(this.sid, update.config);
    for (const setting of update.notApplied) {
      this.emit(
        encodeNotice(
          'setting_not_applied',
          `${setting} is not supported by the speech model's protocol shape (${this.deps.provider.shape}) and was not applied`,
        ),
      );
    }
    this.emit(encodeSessionUpdate(sessionInfo(this.sid, this.state.config)));
  }

  private applyInput(input: ConversationItemInput, eventId: string | undefined): void {
    switch (input.type) {
      case 'input_text': {
        // Applied by the previous owner but not acknowledged yet when it died: the gateway replayed it.
        if (this.answeredTexts.has(this.appliedSeq)) {
          this.deps.metrics.droppedFrames.inc({ reason: 'text_repeated' });
          return;
        }
        const turn: Turn = { kind: 'text', text: input.text, seq: this.appliedSeq, ...withEventId(eventId) };
        if (input.interrupt) {
          const result = this.turns.interrupt(turn);
          if (result === 'cancel') this.cancelForInterrupt();
          if (result !== 'full') return;
        } else if (this.turns.submit(turn)) return;
        this.emit(encodeError('rate_limited', this.queueFullMessage(), undefined, eventId));
        return;
      }
      case 'function_call_output':
        this.applyFunctionOutput(input, eventId);
        return;
      default:
        this.sendAudio(input.audio);
        return;
    }
  }

  /**
   * An interrupting text: cancel the reply in progress and truncate its assistant item at the audio sent so
   * far (the transcript beyond it is dropped from the model's memory); the text goes out after the cancelled
   * reply's `response.done`, with no error in between.
   */
  private cancelForInterrupt(): void {
    this.provider.send(buildBareEvent('response.cancel', this.requests.next({ kind: 'cancel' })));
    const itemId = this.translator.lastAssistantItemId;
    const ms = this.translator.emittedAudioMs;
    if (itemId !== undefined && ms > 0) this.provider.send(buildTruncate(itemId, ms));
  }

  /**
   * A function result: applied once per call id (a result already in this session's history, e.g. replayed by
   * the gateway to a new owner after a failover, is skipped), stored, and answered by the model unless
   * `respond` is false.
   */
  private applyFunctionOutput(
    input: Extract<ConversationItemInput, { type: 'function_call_output' }>,
    eventId: string | undefined,
  ): void {
    if (!this.toolCalls.claimOutput(input.call_id)) {
      this.deps.metrics.droppedFrames.inc({ reason: 'function_output_repeated' });
      this.deps.log.info(
        { sid: this.sid, callId: input.call_id },
        'function result already applied: skipped',
      );
      return;
    }
    const output = buildFunctionCallOutput(input.call_id, input.output, this.requests.nextIfTagged(eventId));
    if (!this.provider.offer(output)) {
      this.toolCalls.releaseOutput(input.call_id);
      this.deps.metrics.droppedFrames.inc({ reason: 'provider_queue_full' });
      this.emit(encodeError('rate_limited', OUTPUT_REFUSED_MESSAGE, undefined, eventId));
      return;
    }
    void this.history
      .appendNow({
        type: 'function_call_output',
        call_id: input.call_id,
        output: input.output,
        at: Date.now(),
      })
      .catch(() => undefined);
    if (input.respond === false) return;
    if (!this.turns.submit({ kind: 'respond', ...withEventId(eventId) })) {
      this.emit(encodeError('rate_limited', this.queueFullMessage(), undefined, eventId));
    }
  }

  /** Sends a turn the queue released: a text (stored in the history as sent) or a response request. */
  private startTurn(turn: Turn): void {
    const shape = this.deps.provider.shape;
    const response = this.requests.next({
      kind: 'turn',
      requeue: !(turn.kind === 'respond' && turn.explicit),
      ...withEventId(turn.clientEventId),
    });
    if (turn.kind === 'text') {
      const [item, create] = buildTextTurn(turn.text, shape, {
        ...withItemId(this.requests.nextIfTagged(turn.clientEventId)),
        response,
      });
      this.provider.send(item);
      this.provider.send(create);
      const seq = turn.seq !== undefined ? { seq: turn.seq } : {};
      this.history.append({ role: 'user', type: 'text', text: turn.text, at: Date.now(), ...seq });
    } else {
      this.provider.send(buildResponseCreate(shape, response));
    }
    this.translator.startTurn();
  }

  /**
   * Provider events, in order. While a function call is being stored before its announcement, later events
   * wait (bounded by the translator's wait) so the client still sees them in the provider's order.
   */
  private onProviderEvent(raw: Buffer, head: string): void {
    if (this.ended) return;
    // Before the event is translated: the ack of an ended turn precedes whatever the client hears about it.
    if (this.turnHold.heard(head)) this.ackTurnEnd();
    if (this.holding) {
      this.held.push([raw, head]);
      return;
    }
    this.translate(raw, head);
  }

  private translate(raw: Buffer, head: string): void {
    const wait = this.translator.handle(raw, head);
    if (!wait) return;
    this.holding = true;
    void wait.finally(() => {
      this.holding = false;
      while (!this.holding && !this.ended && this.held.length > 0) {
        const [r, h] = this.held.shift() as [Buffer, string];
        this.translate(r, h);
      }
    });
  }

  private async writeHistory(item: HistoryItem): Promise<void> {
    try {
      await this.deps.appendHistory(this.sid, item);
    } catch (err) {
      this.deps.log.warn({ sid: this.sid, err: (err as Error).message }, 'history write failed');
      throw err;
    }
  }

  private queueFullMessage(): string {
    return `Too many inputs are waiting for the reply in progress (at most ${this.turns.max}); wait for response.done`;
  }
}

const BUSY_MESSAGE = 'A response is already in progress; wait for response.done or cancel it';
const AUDIO_DROPPED_MESSAGE =
  'The speech model is still connecting and the audio waiting for it reached its limit: later audio is dropped until it is ready';
const OUTPUT_REFUSED_MESSAGE =
  'The speech model is still connecting and the input waiting for it reached its limit: this function result was not applied; send it again shortly';

function withEventId(clientEventId: string | undefined): { clientEventId?: string } {
  return clientEventId === undefined ? {} : { clientEventId };
}

function withItemId(item: string | undefined): { item?: string } {
  return item === undefined ? {} : { item };
}
