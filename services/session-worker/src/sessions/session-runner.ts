import { type BusWriter, FrameRing, type HistoryItem, type Keys, type SessionState } from '@rtv/bus';
import {
  type ClientMessage,
  type ClientSessionUpdate,
  CloseCode,
  type ConversationItemInput,
  encodeAckLine,
  encodeBindLine,
  encodeCloseLine,
  encodeError,
  encodeMessageLine,
  encodeNotice,
  encodeSessionUpdate,
  FrameKind,
  NoticeCode,
  type SessionConfig,
} from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { WorkerMetrics } from '../metrics.js';
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
import { ClientFrameOrder } from './client-frame-order.js';
import { ConfigUpdates, type PendingUpdate, sessionInfo } from './config-updates.js';
import { HistoryLog } from './history-log.js';
import { ProviderEventTranslator } from './provider-event-translator.js';
import { ProviderRequests } from './provider-requests.js';
import { SessionLifetime } from './session-lifetime.js';
import { ToolCalls } from './tool-calls.js';
import { DEFAULT_TURN_HOLD_MAX_BYTES, TurnHold } from './turn-hold.js';
import { type Turn, TurnQueue } from './turn-queue.js';

export interface SessionRunnerDeps {
  keys: Keys;
  writer: BusWriter;
  log: Logger;
  metrics: WorkerMetrics;
  workerId: string;
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
  /** How long a detached session waits for its client to resume. */
  resumeGraceMs: number;
  /** Longest a session may last from its creation (`RTV_MAX_SESSION_S`; 0 = no limit). */
  maxSessionMs: number;
  /** Bytes of recent server frames kept for resume. */
  resumeBufferBytes: number;
  /** `framesToProvider{type="audio"}`, bound once: it is counted on every audio frame. */
  audioFramesToProvider: { inc(): void };
  /** `upstreamEvents{type="response.output_audio.delta"}`, bound once (the fast path skips parsing). */
  audioDeltaEvents: { inc(): void };
  /** Told whether each provider connect attempt succeeded (published in the heartbeat). */
  onProviderConnect?: (ok: boolean, failure?: ProviderFailure) => void;
}

export type EndReason =
  | 'client_closed'
  | 'client_gone'
  | 'resume_timeout'
  | 'upstream_failed'
  /** The provider refused the service's configuration (model, key, shape): retrying cannot help. */
  | 'upstream_fatal'
  | 'lease_lost'
  | 'handoff'
  /** The session reached its maximum length (counted from its creation). */
  | 'max_duration';

/** Server frame seqs are `epoch · 2³² + n`: monotonic across owners without any coordination. */
const EPOCH_STRIDE = 2 ** 32;

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
export class SessionRunner {
  readonly done: Promise<EndReason>;
  /** Highest client seq applied (or dropped as a repeat). */
  appliedSeq: number;
  /** appliedSeq at the last progress write; the owner acks and persists only when they differ. */
  savedSeq: number;
  private outSeq: number;
  private resolveDone!: (reason: EndReason) => void;
  private ended = false;
  private readonly provider: ProviderSession;
  private readonly outbound: FrameRing;
  private attached: boolean;
  private graceTimer: NodeJS.Timeout | undefined;
  private lifetime: SessionLifetime | undefined;
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
  /** Client frames put back in seq order when newer ones overtook a replay. */
  private readonly order: ClientFrameOrder;
  /** The client was told that audio is being dropped while the provider connects (reset once it is ready). */
  private toldAudioDropped = false;
  /** The client was told `upstream_reconnecting` and not yet `upstream_recovered`. */
  private toldReconnecting = false;

  constructor(
    readonly state: SessionState,
    private readonly deps: SessionRunnerDeps,
  ) {
    this.appliedSeq = state.lastSeq;
    this.order = new ClientFrameOrder(
      state.lastSeq,
      (seq, kind, payload) => this.applyInOrder(seq, kind, payload),
      {
        onGap: (result, seqs) => deps.metrics.clientFrameGaps.inc({ result }, result === 'filled' ? 1 : seqs),
      },
    );
    this.savedSeq = state.lastSeq;
    this.outSeq = state.epoch * EPOCH_STRIDE;
    this.attached = state.clientAttached;
    this.outbound = new FrameRing(deps.resumeBufferBytes);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
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

  get sid(): string {
    return this.state.sid;
  }

  /**
   * Binds the session at its gateway (unless the client is detached), then opens the provider session. A
   * takeover (epoch > 1) first reads the history (so a function result the gateway replays is recognised as
   * applied), restores the conversation and tells the client it recovered.
   */
  async start(): Promise<void> {
    const takeover = this.state.epoch > 1;
    if (takeover) await this.preloadHistory();
    if (this.ended) return;
    this.lifetime = new SessionLifetime(this.state.createdMs, this.deps.maxSessionMs, () => this.expire());
    if (this.attached) this.bindAtGateway();
    else {
      this.deps.metrics.sessionsDetached.inc();
      // The grace counts from the drop the record names, not from this claim: a takeover does not extend it.
      const since = this.state.detachedMs ?? Date.now();
      this.startGrace(Math.max(0, since + this.deps.resumeGraceMs - Date.now()));
    }
    const ok = await this.provider.open(takeover);
    if (!ok || this.ended) return;
    if (takeover) this.emit(encodeNotice('session_recovered', NoticeCode.session_recovered.message));
  }

  /**
   * Applies one client frame from the bus (`payload` is a view into the batch; it is copied or parsed here,
   * never kept). Repeats (seq already applied) are dropped: exactly once.
   */
  apply(seq: number, kind: FrameKind, payload: Buffer): void {
    if (this.ended || !this.order.offer(seq, kind, payload)) this.deps.metrics.duplicateFrames.inc();
  }

  /** One client frame, in seq order (see {@link ClientFrameOrder}). */
  private applyInOrder(seq: number, kind: FrameKind, payload: Buffer): void {
    if (this.ended) return;
    this.appliedSeq = seq;
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
  get ackableSeq(): number {
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
    const acked = this.ackableSeq;
    if (!this.attached || acked <= 0) return;
    this.deps.writer.write(
      this.deps.keys.gatewayOut(this.state.gatewayId),
      encodeAckLine(this.sid, this.state.epoch, acked),
    );
  }

  /** The client's socket at `gatewayId` dropped: keep the session for the resume grace period. */
  detach(gatewayId: string): void {
    // A late detach from a gateway the client already left (it resumed elsewhere) is stale.
    if (this.ended || !this.attached || gatewayId !== this.state.gatewayId) return;
    this.attached = false;
    this.deps.metrics.sessionsDetached.inc();
    this.startGrace();
  }

  /** The client resumed at `gatewayId`: route there, replay what it missed, acknowledge progress. */
  resume(gatewayId: string, lastSeq: number): void {
    if (this.ended) return;
    const previous = this.state.gatewayId;
    if (this.attached && previous !== gatewayId) {
      // The same user took the session over from a live socket on another gateway: that socket is told and
      // closed there with 4409 (not ended: the session continues here).
      this.deps.writer.write(
        this.deps.keys.gatewayOut(previous),
        encodeCloseLine(
          this.sid,
          this.state.epoch,
          CloseCode.SessionResumedElsewhere,
          'session resumed elsewhere',
        ),
      );
    }
    this.state.gatewayId = gatewayId;
    if (!this.attached) this.deps.metrics.sessionsDetached.dec();
    this.attached = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.bindAtGateway();
    const { frames, complete } = this.outbound.since(lastSeq);
    this.deps.metrics.resumes.inc();
    this.deps.metrics.resumeReplayedFrames.inc(frames.length);
    const stream = this.deps.keys.gatewayOut(gatewayId);
    for (const [seq, payload] of frames) {
      this.deps.writer.write(stream, encodeMessageLine(this.sid, this.state.epoch, seq, payload));
    }
    this.emit(
      encodeNotice(
        'session_resumed',
        complete
          ? NoticeCode.session_resumed.message
          : 'Session resumed; some older messages could not be replayed',
      ),
    );
  }

  /**
   * This worker claimed the session again after its lease lapsed in a Redis outage (`claim`: the new claim;
   * only its epoch is taken). Nothing else was lost here, so the provider connection, the history and every
   * seq stay: the session is bound at its gateway with the new epoch (the gateway replays the client frames it
   * holds unacknowledged; repeats are dropped by seq), every server frame still in the outbound buffer is sent
   * again with the new epoch and its original seq (the gateway drops those it delivered, so what was written
   * while Redis was away reaches the client), and the client is told `session_recovered`. A detached client
   * gets all of it on resume instead. Later frames are numbered from the new epoch's range.
   */
  reclaim(claim: SessionState): void {
    if (this.ended) return;
    this.state.epoch = claim.epoch;
    this.outSeq = Math.max(this.outSeq, claim.epoch * EPOCH_STRIDE);
    if (this.attached) {
      this.bindAtGateway();
      const stream = this.deps.keys.gatewayOut(this.state.gatewayId);
      for (const [seq, payload] of this.outbound.since(0).frames) {
        this.deps.writer.write(stream, encodeMessageLine(this.sid, claim.epoch, seq, payload));
      }
    }
    this.emit(encodeNotice('session_recovered', NoticeCode.session_recovered.message));
  }

  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.attached) this.deps.metrics.sessionsDetached.dec();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.lifetime?.dispose();
    this.order.dispose();
    this.provider.close();
    this.history.close(reason === 'handoff');
    this.resolveDone(reason);
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
      onConnect: (ok: boolean, failure?: ProviderFailure) => {
        if (ok) this.onProviderReady();
        deps.onProviderConnect?.(ok, failure);
      },
      onEvent: (raw, head) => this.onProviderEvent(raw, head),
      onReconnecting: () => this.onProviderLost(),
      onUnavailable: (failure?: ProviderFailure) => this.fail(failure),
      context: () => this.providerContext(),
    });
  }

  /** The context a fresh provider session starts from: the config in effect and the restorable history. */
  private async providerContext(): Promise<{ config: SessionConfig; history: HistoryItem[] }> {
    const history = this.preloaded ?? (await this.deps.loadHistory(this.sid));
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

  private bindAtGateway(): void {
    const stream = this.deps.keys.gatewayOut(this.state.gatewayId);
    this.deps.writer.write(stream, encodeBindLine(this.sid, this.deps.workerId, this.state.epoch));
    const acked = this.ackableSeq;
    if (acked > 0) this.deps.writer.write(stream, encodeAckLine(this.sid, this.state.epoch, acked));
  }

  private startGrace(ms = this.deps.resumeGraceMs): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => this.end('resume_timeout'), ms);
    this.graceTimer.unref();
  }

  /**
   * The session reached its maximum length: the client is told (`session_expired`) and its gateway closes it
   * with 4408, a terminal close, so it does not resume.
   */
  private expire(): void {
    if (this.ended) return;
    this.emit(encodeError('session_expired', 'The session reached its maximum duration'));
    this.deps.writer.write(
      this.deps.keys.gatewayOut(this.state.gatewayId),
      encodeCloseLine(this.sid, this.state.epoch, CloseCode.SessionTimeout, 'session expired'),
    );
    this.end('max_duration');
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

  /**
   * The provider session cannot be (re)opened. A fatal failure (the provider refuses the service's model, key
   * or shape) tells the client not to reconnect; otherwise it may retry later.
   */
  private fail(failure?: ProviderFailure): void {
    if (this.ended) return;
    const stream = this.deps.keys.gatewayOut(this.state.gatewayId);
    if (failure?.fatal) {
      this.emit(encodeError(failure.code));
      this.deps.writer.write(
        stream,
        encodeCloseLine(
          this.sid,
          this.state.epoch,
          CloseCode.UpstreamMisconfigured,
          'upstream misconfigured',
        ),
      );
      this.end('upstream_fatal');
      return;
    }
    this.emit(encodeError('upstream_unavailable', 'The speech provider is unavailable; try again later'));
    this.deps.writer.write(
      stream,
      encodeCloseLine(this.sid, this.state.epoch, CloseCode.InternalError, 'upstream unavailable'),
    );
    this.end('upstream_failed');
  }

  /**
   * Numbers a public-protocol message (its JSON text, or the UTF-8 bytes of it), keeps it for resume and sends
   * it to the client's gateway.
   */
  private emit(payload: string | Buffer): void {
    const seq = ++this.outSeq;
    this.outbound.push(seq, payload);
    this.deps.metrics.framesToClient.inc();
    if (!this.attached) return;
    this.deps.writer.write(
      this.deps.keys.gatewayOut(this.state.gatewayId),
      encodeMessageLine(this.sid, this.state.epoch, seq, payload),
    );
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
