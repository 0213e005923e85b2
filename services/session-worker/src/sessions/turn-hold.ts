import { TURN_ENDS } from '../upstream/uncommitted-turn.js';

/** Public client messages that end (commit) or drop (clear) the user's turn in progress. */
const CLIENT_TURN_ENDS: ReadonlySet<string> = new Set([
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
]);
const SPEECH_STARTED = '"type":"input_audio_buffer.speech_started"';

/**
 * With turn detection on, audio the provider has had this long without reporting `speech_started` is taken for
 * silence before a turn and let go. It covers the provider's prefix padding (300 ms by default) plus its
 * detection delay and the round trip, with room to spare; the gateway keeps no more than this of an idle
 * session's stream (a microphone that streams silence for minutes would otherwise pin the whole byte bound).
 */
export const DEFAULT_IDLE_WINDOW_MS = 2000;

/** Default of {@link TurnHoldOptions.maxBytes}, as of `RTV_UNCOMMITTED_TURN_MAX_BYTES`: 32 s of 24 kHz PCM16. */
export const DEFAULT_TURN_HOLD_MAX_BYTES = 2 * 1024 * 1024;

export interface TurnHoldOptions {
  /**
   * Bytes of the turn's audio (the frames' base64 payloads) held at most: `RTV_UNCOMMITTED_TURN_MAX_BYTES`, the
   * same bound as the turn a provider reconnect re-sends. Beyond it the oldest frames are let go; 0 holds none.
   * The gateway's replay ring (`RTV_REPLAY_MAX_BYTES`) must be larger, or it evicts what is held here.
   */
  maxBytes: number;
  /** @defaultValue {@link DEFAULT_IDLE_WINDOW_MS} */
  idleWindowMs?: number;
}

/** One held audio frame: its client seq, payload bytes, and when a live provider got it (NaN: not yet). */
interface HeldFrame {
  seq: number;
  bytes: number;
  sentAt: number;
}

/**
 * Which client frames the owner must not acknowledge yet because they carry the audio of the user's turn in
 * progress. A provider session that dies takes its input buffer (appended, not yet committed) with it; when the
 * owner dies too, only frames the gateway still holds unacknowledged reach the next owner. So while a turn is
 * uncommitted, acknowledgements stop just before its first audio frame, the gateway keeps that audio, and the
 * next owner sends it to its fresh provider session before the frames that follow: the model hears the turn
 * whole, and nothing was answered yet (an answer comes only after the turn ends).
 *
 * The turn ends, and acknowledgements move on, on the events `UncommittedTurn` uses: the provider's
 * `input_audio_buffer.committed` / `cleared` / `speech_stopped` or `response.created`, or a client commit or
 * clear. Audio sent in the round trip before a provider's turn end is acknowledged with the turn that ended (the
 * provider's events do not say where its commit cut the stream); in practice that is trailing silence.
 *
 * Bounded by `maxBytes`; and with turn detection on, audio before the provider heard speech is held only for the
 * idle window (see {@link DEFAULT_IDLE_WINDOW_MS}), counted from when a live provider got it, so audio queued
 * during a provider (re)connect is never let go unheard.
 */
export class TurnHold {
  private frames: HeldFrame[] = [];
  /** Index of the oldest held frame in {@link frames} (dropped entries are compacted away in batches). */
  private head = 0;
  private heldBytes = 0;
  /** The provider reported `speech_started` since the turn began: the turn's start is fixed. */
  private speaking = false;
  /** The provider session is open: audio offered now reaches it now. */
  private live = false;
  private readonly idleWindowMs: number;

  constructor(private readonly opts: TurnHoldOptions) {
    this.idleWindowMs = opts.idleWindowMs ?? DEFAULT_IDLE_WINDOW_MS;
  }

  /** The seq of the oldest audio frame held, or undefined when nothing is held. */
  get firstSeq(): number | undefined {
    return this.frames[this.head]?.seq;
  }

  /** Payload bytes held. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** The highest seq that may be acknowledged when `applied` is the highest applied: just before the turn. */
  ackable(applied: number): number {
    const first = this.firstSeq;
    return first === undefined ? applied : Math.min(applied, first - 1);
  }

  /**
   * An audio frame was applied (sent to the provider, or queued for it). `detectsTurns`: the session's turn
   * detection is on (server or semantic VAD), so audio with no speech in it is let go after the idle window.
   */
  audio(seq: number, bytes: number, detectsTurns: boolean, now: number = performance.now()): void {
    this.frames.push({ seq, bytes, sentAt: this.live ? now : Number.NaN });
    this.heldBytes += bytes;
    while (this.heldBytes > this.opts.maxBytes && this.size > 0) this.dropOldest();
    if (detectsTurns && !this.speaking && this.live) {
      // NaN compares false: a frame a live provider has not got yet is never let go as silence.
      while (this.size > 0 && now - this.frames[this.head]!.sentAt > this.idleWindowMs) this.dropOldest();
    }
    this.compact();
  }

  /** A public client message was applied. True when it ended a turn that held audio (acks may move on now). */
  clientSent(type: string): boolean {
    return CLIENT_TURN_ENDS.has(type) ? this.end() : false;
  }

  /**
   * The provider sent an event (`head`: its first characters). True when it ended a turn that held audio.
   */
  heard(head: string): boolean {
    if (!head.includes('"type":"input_audio_buffer.') && !head.includes('"type":"response.created"')) {
      return false;
    }
    if (head.includes(SPEECH_STARTED)) {
      this.speaking = true;
      return false;
    }
    return TURN_ENDS.some((type) => head.includes(type)) ? this.end() : false;
  }

  /**
   * A provider session was (re)opened: what was queued meanwhile, and the uncommitted turn a reconnect re-sends,
   * reached it just now, so the idle window of every held frame starts again.
   */
  providerReady(now: number = performance.now()): void {
    this.live = true;
    for (let i = this.head; i < this.frames.length; i++) this.frames[i]!.sentAt = now;
  }

  /** The provider session was lost: nothing is let go as silence until a new one has heard it. */
  providerLost(): void {
    this.live = false;
  }

  private get size(): number {
    return this.frames.length - this.head;
  }

  /** The turn is over (committed or dropped): nothing is held. True when something was. */
  private end(): boolean {
    const held = this.size > 0;
    this.frames = [];
    this.head = 0;
    this.heldBytes = 0;
    this.speaking = false;
    return held;
  }

  private dropOldest(): void {
    this.heldBytes -= this.frames[this.head]!.bytes;
    this.head++;
  }

  /** Drops the consumed prefix once it is large, so a long turn costs O(1) per frame. */
  private compact(): void {
    if (this.head === this.frames.length) {
      this.frames = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }
}
