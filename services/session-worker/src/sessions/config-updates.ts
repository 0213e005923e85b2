import { DEFAULT_INPUT_AUDIO_TRANSCRIPTION, type SessionConfig, type SessionInfo } from '@rtv/protocol';
import type { ProviderShape } from '../upstream/provider-connection.js';
import { buildSessionUpdate, settingsNotApplied } from '../upstream/provider-events.js';

/** A client's `session.update` sent to the provider and not answered yet. */
export interface PendingUpdate {
  /** Our provider event id (changes when the update is re-sent after a provider reconnect). */
  eventId: string;
  /** The whole configuration the update asks for. */
  readonly config: SessionConfig;
  readonly clientEventId?: string;
  /** Settings the update set that the provider shape cannot apply (`setting_not_applied` notices). */
  readonly notApplied: readonly string[];
}

export interface ConfigUpdatesHost {
  readonly shape: ProviderShape;
  /** The configuration in effect (committed): every update builds on it. */
  committed(): SessionConfig;
  /** Sends one provider event (or queues it while the provider (re)connects). */
  send(raw: string): void;
  /** A fresh provider event id for an update, remembered with the client's event id. */
  tag(clientEventId: string | undefined): string;
  /** The provider applied `update`: make it the configuration in effect, stored and reported. */
  commit(update: PendingUpdate): void;
}

/** Stands for the `session.update` a (re)opened provider session starts with, in {@link ConfigUpdates}. */
const RESTORE = '';

/**
 * Client `session.update`s, one in flight at a time. The provider answers each `session.update` in order with
 * `session.updated` (which does not echo our event id) or an `error` (which does), and discards a rejected
 * update whole, so an update is committed only on its own `session.updated` and dropped on its error; the next
 * one is built on what is then in effect. Later updates wait (bounded).
 *
 * Which `session.updated` answers which update: the events are answered in order on one provider connection,
 * and every (re)opened connection starts with the worker's restore update. On a drop (`providerLost`) the
 * in-flight update's answer is lost with the socket, so it is sent again once the new connection is up; an
 * update sent while the provider is (re)connecting is queued by the `ProviderSession` and answered right after
 * the restore.
 */
export class ConfigUpdates {
  private inFlight: PendingUpdate | undefined;
  private readonly waiting: Array<{ patch: Partial<SessionConfig>; clientEventId?: string }> = [];
  /** Event ids whose answer is due, oldest first ({@link RESTORE} for a restore). */
  private expected: string[] = [];
  private resend = false;

  constructor(
    private readonly host: ConfigUpdatesHost,
    private readonly maxWaiting = 16,
  ) {}

  /** A client's update (`patch`: the fields it set). False when too many are waiting already. */
  request(patch: Partial<SessionConfig>, clientEventId: string | undefined): boolean {
    if (this.inFlight) {
      if (this.waiting.length >= this.maxWaiting) return false;
      this.waiting.push({ patch, ...(clientEventId !== undefined ? { clientEventId } : {}) });
      return true;
    }
    this.start(patch, clientEventId);
    return true;
  }

  /** A `session.updated` arrived: commits the update it answers, if it answers a client's. */
  updated(): void {
    const id = this.expected.shift();
    if (id === undefined || id === RESTORE || id !== this.inFlight?.eventId) return;
    const update = this.inFlight;
    this.inFlight = undefined;
    this.host.commit(update);
    this.startNext();
  }

  /** The provider rejected our event `eventId`: returns the update it was, dropped, if it was one. */
  rejected(eventId: string): PendingUpdate | undefined {
    if (this.inFlight?.eventId !== eventId) return undefined;
    const update = this.inFlight;
    this.inFlight = undefined;
    this.expected = this.expected.filter((id) => id !== eventId);
    this.startNext();
    return update;
  }

  /** The provider rejected a restore update: no `session.updated` will answer it. */
  restoreRejected(): void {
    const i = this.expected.indexOf(RESTORE);
    if (i !== -1) this.expected.splice(i, 1);
  }

  /** The provider socket dropped: answers to what was sent on it will not come. */
  providerLost(): void {
    if (this.inFlight && this.expected.includes(this.inFlight.eventId)) this.resend = true;
    this.expected = [];
  }

  /** A provider session is (re)opened: its restore update is answered first, then what was queued. */
  providerConnected(): void {
    this.expected = [RESTORE, ...this.expected.filter((id) => id !== RESTORE)];
    if (this.resend && this.inFlight) this.send(this.inFlight);
    this.resend = false;
  }

  /** Updates in flight or waiting (for tests and logs). */
  get pending(): number {
    return (this.inFlight ? 1 : 0) + this.waiting.length;
  }

  private start(patch: Partial<SessionConfig>, clientEventId: string | undefined): void {
    const config: SessionConfig = { ...this.host.committed() };
    for (const [k, v] of Object.entries(patch)) {
      if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v;
    }
    this.inFlight = {
      eventId: '',
      config,
      ...(clientEventId !== undefined ? { clientEventId } : {}),
      notApplied: settingsNotApplied(patch, this.host.shape),
    };
    this.send(this.inFlight);
  }

  private send(update: PendingUpdate): void {
    update.eventId = this.host.tag(update.clientEventId);
    this.expected.push(update.eventId);
    this.host.send(buildSessionUpdate(update.config, this.host.shape, update.eventId));
  }

  private startNext(): void {
    const next = this.waiting.shift();
    if (next) this.start(next.patch, next.clientEventId);
  }
}

/**
 * The configuration in effect as the public `session.update` reports it: every field the client set, and the
 * effective input transcription (on by default).
 */
export function sessionInfo(id: string, config: SessionConfig): SessionInfo {
  return {
    id,
    voice: config.voice,
    language: config.language,
    ...(config.instructions !== undefined ? { instructions: config.instructions } : {}),
    temperature: config.temperature,
    max_response_output_tokens: config.max_response_output_tokens,
    modalities: config.modalities,
    ...(config.turn_detection !== undefined ? { turn_detection: config.turn_detection } : {}),
    ...(config.tools !== undefined ? { tools: config.tools } : {}),
    ...(config.tool_choice !== undefined ? { tool_choice: config.tool_choice } : {}),
    ...(config.input_audio_noise_reduction !== undefined
      ? { input_audio_noise_reduction: config.input_audio_noise_reduction }
      : {}),
    ...(config.speed !== undefined ? { speed: config.speed } : {}),
    input_audio_transcription:
      config.input_audio_transcription === undefined
        ? { ...DEFAULT_INPUT_AUDIO_TRANSCRIPTION }
        : config.input_audio_transcription,
  };
}
