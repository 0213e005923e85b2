import type { Logger } from '@rtv/service-kit';
import type { WorkerMetrics } from '../metrics.js';
import type { HistoryLog } from '../sessions/history-log.js';
import { historyItemOf, INTERNAL_EVENT_PREFIX, isUserAudioItem } from './compat-restore.js';
import type { SessionObject } from './session-patch.js';

/** What the relay works with: the runner's output and bookkeeping. */
export interface CompatRelayContext {
  readonly sid: string;
  readonly model: string;
  readonly userClass: string;
  readonly metrics: WorkerMetrics;
  readonly log: Logger;
  /** `upstreamEvents{type="response.output_audio.delta"}`, bound once (the fast path skips parsing). */
  readonly audioDeltaEvents: { inc(): void };
  /** Numbers and sends one event to the client, as the provider wrote it. */
  emit(payload: string | Buffer): void;
  readonly history: HistoryLog;
  /** The session transcribes the user's speech (so a user audio item's words will come). */
  transcribes(): boolean;
  /** The provider applied the oldest client `session.update` still waiting. */
  clientUpdateApplied(): void;
  /**
   * The provider refused the client event `eventId`: a waiting `session.update` with that id is dropped, and
   * the answer says whether its id was the client's (`client`) or one the owner gave it (`tagged`).
   */
  clientUpdateRefused(eventId: string): 'tagged' | 'client' | undefined;
  /** The provider started a response (its id): kept until it is done, for a next owner. */
  responseStarted(id: string): void;
  /** A response ended with this many tokens (the budget is charged). */
  responseDone(totalTokens: number): void;
}

/** Events the relay reads; every other event goes to the client as the provider wrote it, unparsed. */
const READ_TYPES: ReadonlySet<string> = new Set([
  'session.created',
  'session.updated',
  'error',
  'conversation.item.added',
  'conversation.item.created',
  'conversation.item.done',
  'conversation.item.input_audio_transcription.completed',
  'conversation.item.input_audio_transcription.failed',
  'input_audio_buffer.speech_started',
  'input_audio_buffer.speech_stopped',
  'response.created',
  'response.done',
]);

const AUDIO_DELTA = '"type":"response.output_audio.delta"';
const TYPE_KEY = '"type":"';
const NL = 0x0a;

type Json = Record<string, unknown>;

/**
 * Provider events → the OpenAI-compatible client, unchanged. Audio deltas take a fast path: their bytes are the
 * client's frame, with no parse. A few events are read on the way, for what the owner must keep: the items of
 * the conversation (stored in the history under their ids, so a later owner restores them), the replies to
 * the owner's own restore events (not the client's: dropped), the first `session.created` only (a restore into
 * a new provider session is invisible), usage (tokens by model and user class, and the user's budget), and
 * the voice metrics of the seed route (time to first audio, speech starts, barge-ins, turns).
 */
export class CompatEventRelay {
  /** Internal `session.update`s whose `session.updated` is still due. */
  private internalUpdates = 0;
  /** Items being restored: their `conversation.item.*` events are the owner's, not news to the client. */
  private readonly restoring = new Set<string>();
  /** The client has seen a `session.created`; later ones (new provider sessions) are dropped. */
  private createdSent: boolean;
  private turnStartedAt: number | undefined;
  private firstAudioSeen = false;
  private responding = false;

  constructor(
    private readonly ctx: CompatRelayContext,
    createdSent: boolean,
  ) {
    this.createdSent = createdSent;
  }

  /** A fresh provider session is being restored with these internal events (their replies are dropped). */
  expectRestore(sessionUpdates: number, itemIds: readonly string[]): void {
    this.internalUpdates = sessionUpdates;
    this.restoring.clear();
    for (const id of itemIds) this.restoring.add(id);
  }

  /** A user turn ended (speech stopped, response requested): time to first audio counts from here. */
  startTurn(): void {
    this.turnStartedAt = performance.now();
    this.firstAudioSeen = false;
  }

  handle(raw: Buffer, head: string): void {
    const { ctx } = this;
    ctx.metrics.upstreamBytesIn.tally().inc(raw.length);
    if (head.includes(AUDIO_DELTA)) {
      ctx.audioDeltaEvents.inc();
      this.firstAudio();
      this.forward(raw);
      return;
    }
    const type = typeOf(head);
    ctx.metrics.upstreamEvents.inc({ type: type ?? 'unknown' });
    if (type === undefined || !READ_TYPES.has(type)) {
      this.forward(raw);
      return;
    }
    let event: Json;
    try {
      event = JSON.parse(raw.toString()) as Json;
    } catch {
      ctx.metrics.upstreamErrors.inc({ code: 'unparseable_event' });
      return;
    }
    if (this.read(type, event)) this.forward(raw);
  }

  /** Bookkeeping for one read event; false when the client must not see it. */
  private read(type: string, event: Json): boolean {
    switch (type) {
      case 'session.created':
        if (this.createdSent) return false;
        this.createdSent = true;
        return true;
      case 'session.updated':
        if (this.internalUpdates > 0) {
          this.internalUpdates--;
          return false;
        }
        this.ctx.clientUpdateApplied();
        return true;
      case 'error':
        return this.onError(event);
      case 'conversation.item.added':
      case 'conversation.item.created':
        return !this.isRestoring(event.item);
      case 'conversation.item.done':
        return this.onItemDone(event.item as Json | undefined);
      default:
        return this.readTurn(type, event);
    }
  }

  /** Events of the user's turn and of responses. */
  private readTurn(type: string, event: Json): boolean {
    const { ctx } = this;
    switch (type) {
      case 'conversation.item.input_audio_transcription.completed':
        if (typeof event.item_id === 'string') {
          const text = typeof event.transcript === 'string' ? event.transcript : '';
          const item = { role: 'user' as const, type: 'text' as const, text, at: Date.now() };
          ctx.history.fill(event.item_id, text.trim() ? { ...item, item_id: event.item_id } : undefined);
        }
        return true;
      case 'conversation.item.input_audio_transcription.failed':
        if (typeof event.item_id === 'string') ctx.history.fill(event.item_id, undefined);
        return true;
      case 'input_audio_buffer.speech_started':
        ctx.metrics.speechStarts.inc();
        if (this.responding) ctx.metrics.bargeIns.inc();
        return true;
      case 'input_audio_buffer.speech_stopped':
        this.startTurn();
        return true;
      case 'response.created': {
        this.responding = true;
        const id = ((event.response ?? {}) as Json).id;
        if (typeof id === 'string') ctx.responseStarted(id);
        if (this.turnStartedAt !== undefined) {
          ctx.metrics.upstreamLatency.observe((performance.now() - this.turnStartedAt) / 1000);
        }
        return true;
      }
      case 'response.done':
        this.onResponseDone((event.response ?? {}) as Json);
        return true;
      default:
        return true;
    }
  }

  private isRestoring(item: unknown): boolean {
    const id = (item as Json | undefined)?.id;
    return typeof id === 'string' && this.restoring.has(id);
  }

  /** An item is complete: kept in the history (a user's speech waits for its transcript), unless restored. */
  private onItemDone(item: Json | undefined): boolean {
    if (!item) return true;
    if (this.isRestoring(item)) {
      this.restoring.delete(item.id as string);
      return false;
    }
    if (isUserAudioItem(item)) {
      if (typeof item.id === 'string' && this.ctx.transcribes()) this.ctx.history.reserve(item.id);
      return true;
    }
    const kept = historyItemOf(item, Date.now());
    if (kept) this.ctx.history.append(kept);
    return true;
  }

  /** A refusal of one of the owner's own events is logged, not forwarded; the client's are forwarded. */
  private onError(event: Json): boolean {
    const error = (event.error ?? {}) as Json;
    const eventId = typeof error.event_id === 'string' ? error.event_id : undefined;
    const code = typeof error.code === 'string' ? error.code : 'unknown';
    this.ctx.metrics.upstreamErrors.inc({ code });
    if (eventId?.startsWith(INTERNAL_EVENT_PREFIX)) {
      if (eventId.includes('session')) this.internalUpdates = Math.max(0, this.internalUpdates - 1);
      this.ctx.log.warn({ sid: this.ctx.sid, code, eventId }, 'provider refused a restore event');
      return false;
    }
    if (eventId === undefined || this.ctx.clientUpdateRefused(eventId) !== 'tagged') return true;
    // The client sent no event id: the refusal names none either.
    this.ctx.emit(JSON.stringify({ ...event, error: { ...error, event_id: null } }));
    return false;
  }

  private onResponseDone(response: Json): void {
    const { ctx } = this;
    this.responding = false;
    this.turnStartedAt = undefined;
    ctx.metrics.turns.inc({ status: typeof response.status === 'string' ? response.status : 'unknown' });
    const usage = (response.usage ?? {}) as Json;
    const input = count(usage.input_tokens);
    const output = count(usage.output_tokens);
    const labels = { model: ctx.model, route: 'openai', policy_class: ctx.userClass };
    ctx.metrics.tokens.inc({ ...labels, direction: 'input' }, input);
    ctx.metrics.tokens.inc({ ...labels, direction: 'output' }, output);
    ctx.responseDone(count(usage.total_tokens) || input + output);
  }

  private firstAudio(): void {
    if (this.firstAudioSeen || this.turnStartedAt === undefined) return;
    this.firstAudioSeen = true;
    this.ctx.metrics.timeToFirstAudio.observe(
      { route: 'openai' },
      (performance.now() - this.turnStartedAt) / 1000,
    );
  }

  /**
   * Sends the provider's event as it is. A bus line may not hold a raw newline; JSON never needs one, but an
   * event that has one (pretty-printed, hostile) is re-serialised, which escapes it.
   */
  private forward(raw: Buffer): void {
    if (raw.indexOf(NL) === -1) {
      this.ctx.emit(raw);
      return;
    }
    try {
      this.ctx.emit(JSON.stringify(JSON.parse(raw.toString())));
    } catch {
      this.ctx.metrics.upstreamErrors.inc({ code: 'unparseable_event' });
    }
  }
}

/** The event type from the first characters of an event (the type leads every provider event). */
function typeOf(head: string): string | undefined {
  const at = head.indexOf(TYPE_KEY);
  if (at === -1) return undefined;
  const end = head.indexOf('"', at + TYPE_KEY.length);
  return end === -1 ? undefined : head.slice(at + TYPE_KEY.length, end);
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

export type { SessionObject };
