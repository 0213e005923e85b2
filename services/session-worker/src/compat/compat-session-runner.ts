import type { HistoryItem, SessionState } from '@rtv/bus';
import {
  CloseCode,
  type CompatSessionSettings,
  compatErrorFor,
  type ErrorCode,
  encodeCompatError,
  FrameKind,
  type NoticeCode,
  NoticeCode as Notices,
} from '@rtv/protocol';
import { BusSession, type EndReason } from '../sessions/bus-session.js';
import { HistoryLog } from '../sessions/history-log.js';
import type { SessionRunnerDeps } from '../sessions/session-runner.js';
import { DEFAULT_TURN_HOLD_MAX_BYTES, TurnHold } from '../sessions/turn-hold.js';
import { buildAudioAppend, eventHead, restorableHistory } from '../upstream/provider-events.js';
import type { ProviderFailure } from '../upstream/provider-failure.js';
import { ProviderSession } from '../upstream/provider-session.js';
import { CompatEventRelay } from './compat-event-relay.js';
import { buildRestoreItems, buildRestoreSession } from './compat-restore.js';
import { detectsTurns, mergeSessionPatch, type SessionObject, transcribesInput } from './session-patch.js';

export interface CompatRunnerDeps extends SessionRunnerDeps {
  /**
   * Charges `tokens` to the user's budget for the current window; resolves whether the budget is now spent.
   * Absent: budgets are not enforced.
   */
  spendTokens?: (
    userId: string,
    tokens: number,
    budget: { tokens: number; windowS: number },
  ) => Promise<{ exhausted: boolean }>;
}

/** A client `session.update` sent to the provider and not yet answered. */
interface PendingUpdate {
  /** The client's event id, or one this owner gave it (`tagged`) so that a refusal can be matched. */
  eventId: string;
  tagged: boolean;
  patch: SessionObject;
  /** The event as sent, for a new provider session if this one is lost before it answers. */
  raw: string;
}

/** Prefix of the event id given to a client `session.update` sent without one. */
const TAG_PREFIX = 'rtv_update_';

type Json = Record<string, unknown>;

/** At most this many client `session.update`s wait for the provider's answer; more are refused. */
const MAX_PENDING_UPDATES = 16;

/**
 * One live session of the OpenAI-compatible route (`/v1/realtime`) on this worker. The client speaks the
 * provider's protocol, so its events go to the provider as they are (the gateway validated them and applied the
 * deployment's policy) and the provider's events come back as they are ({@link CompatEventRelay}); audio takes
 * the byte paths both ways. What this runner adds is what a stock SDK cannot do itself: the session survives
 * this worker. The provider `session` object (every update the provider accepted, merged) is kept in the
 * session record, and the conversation's items in the history under their ids; a new owner, or a new provider
 * session after a drop or the 60-minute cap, gets both back before any client event, with the same item ids, and
 * the client sees none of that restore. Audio of an uncommitted user turn is held unacknowledged, as on the
 * seed route ({@link TurnHold}), so the gateway replays it to a next owner.
 */
export class CompatSessionRunner extends BusSession {
  private readonly provider: ProviderSession;
  private readonly relay: CompatEventRelay;
  private readonly history: HistoryLog;
  private readonly turnHold: TurnHold;
  private readonly settings: CompatSessionSettings;
  private readonly pending: PendingUpdate[] = [];
  /** Item ids and function-call ids the conversation already holds: a client event re-creating one is a replay. */
  private readonly knownItems = new Set<string>();
  private readonly answeredCalls = new Set<string>();
  private restores = 0;
  private tags = 0;
  private preloaded: HistoryItem[] | undefined;
  private toldAudioDropped = false;

  constructor(
    state: SessionState,
    private readonly deps: CompatRunnerDeps,
  ) {
    super(state, deps);
    this.settings = state.config.openai as CompatSessionSettings;
    this.history = new HistoryLog((item) => this.writeHistory(item));
    this.turnHold = new TurnHold({
      maxBytes: deps.provider.uncommittedTurnMaxBytes ?? DEFAULT_TURN_HOLD_MAX_BYTES,
    });
    this.relay = new CompatEventRelay(
      {
        sid: state.sid,
        model: this.settings.model,
        userClass: this.settings.userClass,
        metrics: deps.metrics,
        log: deps.log,
        audioDeltaEvents: deps.audioDeltaEvents,
        emit: (payload) => this.emit(payload),
        history: this.history,
        transcribes: () => transcribesInput(this.settings.session),
        clientUpdateApplied: () => this.commitUpdate(),
        clientUpdateRefused: (eventId) => this.dropUpdate(eventId),
        responseStarted: (id) => this.noteResponse(id),
        responseDone: (tokens) => {
          this.noteResponse(undefined);
          if (tokens > 0) this.chargeTokens(tokens);
        },
      },
      state.epoch > 1,
    );
    this.provider = this.createProviderSession();
  }

  /** Binds the session at its gateway (or waits for the client), then opens the provider session. */
  /** Bytes of the user turn in progress this session keeps for a fresh provider session (for the gauge). */
  uncommittedTurnBytes(): number {
    return this.provider.uncommittedTurnBytes();
  }

  async start(): Promise<void> {
    const takeover = this.state.epoch > 1;
    if (takeover) this.preloaded = await this.deps.loadHistory(this.sid).catch(() => undefined);
    if (this.preloaded) this.remember(this.preloaded);
    if (this.ended) return;
    this.attachOrWait();
    if (takeover) this.endOrphanedResponse();
    const ok = await this.provider.open(takeover);
    if (ok && takeover && !this.ended) this.notify('session_recovered');
  }

  override get ackableSeq(): number {
    return this.turnHold.ackable(this.appliedSeq);
  }

  protected applyFrame(seq: number, kind: FrameKind, payload: Buffer): void {
    if (kind === FrameKind.Audio) {
      this.sendAudio(seq, payload);
      return;
    }
    let event: Json;
    try {
      event = JSON.parse(payload.toString()) as Json;
    } catch {
      this.deps.log.warn({ sid: this.sid }, 'unparseable JSON frame from the gateway dropped');
      return;
    }
    const type = typeof event.type === 'string' ? event.type : 'unknown';
    this.deps.metrics.framesToProvider.inc({ type });
    if (this.isReplay(type, event)) {
      this.deps.metrics.droppedFrames.inc({ reason: 'item_repeated' });
      return;
    }
    if (type === 'session.update') this.requestUpdate(event, payload);
    else if (type === 'input_audio_buffer.append')
      this.sendAudio(seq, Buffer.from(String(event.audio)), payload);
    else this.provider.send(Buffer.from(payload));
    if (type === 'response.create') this.relay.startTurn();
    if (this.turnHold.clientSent(type)) this.ackNow();
  }

  protected onEnd(reason: EndReason): void {
    this.provider.close();
    this.history.close(reason === 'handoff');
  }

  protected encodeClientError(code: ErrorCode, message?: string): string {
    return encodeCompatError(compatErrorFor(code, message));
  }

  /** Only a client that asked for `rtv.*` events (`?rtv_events=1`) gets notices; a stock SDK sees none. */
  protected encodeClientNotice(
    code: NoticeCode,
    message: string = Notices[code].message,
  ): string | undefined {
    if (!this.settings.rtvEvents) return undefined;
    return JSON.stringify({ type: 'rtv.notice', code, message });
  }

  /**
   * Client audio (the gateway's fast path gives the base64 bytes; an append with an `event_id` comes as JSON
   * and is sent whole). Beyond the provider queue's budget while it connects, audio is dropped and the client
   * told once per connect.
   */
  private sendAudio(seq: number, base64: Buffer, whole?: Buffer): void {
    this.turnHold.audio(seq, base64.length, detectsTurns(this.settings.session));
    if (this.provider.offer(whole ? Buffer.from(whole) : buildAudioAppend(base64))) {
      this.deps.audioFramesToProvider.inc();
      return;
    }
    this.deps.metrics.droppedFrames.inc({ reason: 'provider_queue_full' });
    if (this.toldAudioDropped) return;
    this.toldAudioDropped = true;
    this.emit(this.encodeClientError('rate_limited', AUDIO_DROPPED_MESSAGE));
  }

  /**
   * A client event the conversation already holds: after a failover the gateway replays the events the last
   * owner had not acknowledged, and an item it had created (by the client's id) or a function result it had
   * applied must not be created twice.
   */
  private isReplay(type: string, event: Json): boolean {
    if (type !== 'conversation.item.create') return false;
    const item = (event.item ?? {}) as Json;
    if (typeof item.id === 'string' && this.knownItems.has(item.id)) return true;
    return (
      item.type === 'function_call_output' &&
      typeof item.call_id === 'string' &&
      this.answeredCalls.has(item.call_id)
    );
  }

  /** A client `session.update`: sent, and kept as pending until the provider accepts or refuses it. */
  private requestUpdate(event: Json, payload: Buffer): void {
    if (this.pending.length >= MAX_PENDING_UPDATES) {
      const refusal = compatErrorFor('rate_limited', PENDING_FULL_MESSAGE, undefined, eventIdOf(event));
      this.emit(encodeCompatError(refusal));
      return;
    }
    const patch = (event.session ?? {}) as SessionObject;
    const own = eventIdOf(event);
    const eventId = own ?? `${TAG_PREFIX}${++this.tags}`;
    const raw = own === undefined ? JSON.stringify({ ...event, event_id: eventId }) : payload.toString();
    this.pending.push({ eventId, tagged: own === undefined, patch, raw });
    this.provider.send(raw);
  }

  /** The provider applied the oldest pending update: it is now part of the session any later owner restores. */
  private commitUpdate(): void {
    const update = this.pending.shift();
    if (!update) return;
    this.settings.session = mergeSessionPatch(this.settings.session, update.patch);
    this.deps.saveConfig(this.sid, this.state.config);
  }

  /** The provider refused a client event: a pending update with that id is dropped. Says whether it was ours. */
  private dropUpdate(eventId: string): 'tagged' | 'client' | undefined {
    const index = this.pending.findIndex((u) => u.eventId === eventId);
    if (index === -1) return undefined;
    const [update] = this.pending.splice(index, 1);
    return update!.tagged ? 'tagged' : 'client';
  }

  /** Keeps the response in progress in the record (one write per response start and end). */
  private noteResponse(id: string | undefined): void {
    if (this.settings.openResponse === id) return;
    if (id === undefined) delete this.settings.openResponse;
    else this.settings.openResponse = id;
    this.deps.saveConfig(this.sid, this.state.config);
  }

  /**
   * The previous owner died during a response: the client got its start and maybe part of it, and waits for its
   * end, which the new provider session cannot send. It gets a `response.done` with status `failed` (error
   * code `session_failover`), so an SDK that waits for one before the next response goes on.
   */
  private endOrphanedResponse(): void {
    const id = this.settings.openResponse;
    if (id === undefined) return;
    this.emit(orphanedResponseDone(id));
    this.noteResponse(undefined);
  }

  /** Charges a response's tokens; a spent budget ends the session once this response is done. */
  private chargeTokens(tokens: number): void {
    const { budget } = this.settings;
    if (!budget || !this.deps.spendTokens) return;
    this.deps.spendTokens(this.state.userId, tokens, budget).then(
      ({ exhausted }) => {
        if (exhausted) this.endForBudget();
      },
      (err: Error) => this.deps.log.warn({ sid: this.sid, err: err.message }, 'token budget charge failed'),
    );
  }

  private endForBudget(): void {
    if (this.ended) return;
    this.deps.log.info({ sid: this.sid, userId: this.state.userId }, 'token budget spent: session ended');
    this.emit(this.encodeClientError('budget_exhausted'));
    this.closeClient(CloseCode.SessionEnded, 'token budget exhausted');
    this.end('budget_exhausted');
  }

  private createProviderSession(): ProviderSession {
    const { deps } = this;
    return new ProviderSession({
      ...deps.provider,
      // The client's model, as the policy allowed it; an Azure worker serves its configured deployment.
      model: deps.providerKind === 'azure' ? deps.provider.model : this.settings.model,
      log: deps.log.child({ sid: this.state.sid }),
      metrics: deps.metrics,
      // Created right after the claim: the session's start on this worker (`rtv_worker_provider_ready_seconds`).
      startedAt: performance.now(),
      onConnect: (ok: boolean, failure?: ProviderFailure) => {
        if (ok) this.onProviderReady();
        deps.onProviderConnect?.(ok, failure);
      },
      onEvent: (raw, head) => this.onProviderEvent(raw, head),
      onSessionCreated: (raw) => this.onProviderEvent(raw, eventHead(raw)),
      onReconnecting: () => this.turnHold.providerLost(),
      onUnavailable: (failure?: ProviderFailure) => this.fail(failure),
      context: async () => ({ config: this.state.config, history: [] }),
      restoreEvents: (withHistory) => this.restoreEvents(withHistory),
    });
  }

  /**
   * What a fresh provider session gets before any client event: the kept session object, then (a takeover, a
   * reconnect, a renewal) the conversation's items under their ids. Their answers are the relay's to drop.
   */
  private async restoreEvents(withHistory: boolean): Promise<string[]> {
    const n = ++this.restores;
    const session = this.settings.session;
    const events = Object.keys(session).length > 0 ? [buildRestoreSession(session, n)] : [];
    let items: HistoryItem[] = [];
    if (withHistory) {
      items = restorableHistory(this.preloaded ?? (await this.deps.loadHistory(this.sid)));
      this.preloaded = undefined;
      this.remember(items);
      events.push(...buildRestoreItems(items, n));
    }
    const ids = items.flatMap((item) => (item.item_id !== undefined ? [item.item_id] : []));
    // The very first provider session's settings are news to the client (its session.created showed the
    // provider's defaults): their session.updated goes through. Every later restore is unseen.
    const first = n === 1 && this.state.epoch <= 1;
    this.relay.expectRestore(first ? 0 : events.length - items.length, ids);
    // Client updates the lost provider session never answered go again, after the restore.
    for (const update of this.pending) events.push(update.raw);
    return events;
  }

  private remember(items: readonly HistoryItem[]): void {
    for (const item of items) {
      if (item.item_id !== undefined) this.knownItems.add(item.item_id);
      if (item.type === 'function_call_output') this.answeredCalls.add(item.call_id);
    }
  }

  private onProviderReady(): void {
    this.toldAudioDropped = false;
    this.turnHold.providerReady();
  }

  private onProviderEvent(raw: Buffer, head: string): void {
    if (this.ended) return;
    // Before the event goes out: the ack of an ended turn precedes whatever the client hears about it.
    if (this.turnHold.heard(head)) this.ackNow();
    this.relay.handle(raw, head);
  }

  private async writeHistory(item: HistoryItem): Promise<void> {
    if (item.item_id !== undefined) this.knownItems.add(item.item_id);
    if (item.type === 'function_call_output') this.answeredCalls.add(item.call_id);
    await this.deps.appendHistory(this.sid, item);
  }
}

function eventIdOf(event: Json): string | undefined {
  return typeof event.event_id === 'string' ? event.event_id : undefined;
}

const AUDIO_DROPPED_MESSAGE =
  'The speech model is still connecting and the audio waiting for it reached its limit: later audio is dropped until it is ready';
const PENDING_FULL_MESSAGE =
  'Too many session.update events are waiting for the speech model; wait for session.updated';

/** The `response.done` that ends a response its owner could not finish (see `endOrphanedResponse`). */
function orphanedResponseDone(id: string): string {
  return JSON.stringify({
    type: 'response.done',
    event_id: `event_rtv_failover_${id.slice(-12)}`,
    response: {
      object: 'realtime.response',
      id,
      status: 'failed',
      status_details: {
        type: 'failed',
        error: { type: 'server_error', code: 'session_failover' },
      },
      output: [],
      usage: null,
    },
  });
}
