import { EVENT_HEAD_CHARS, eventHead } from './provider-events.js';

/**
 * Provider events after which the audio appended so far is the provider's business, not the buffer's (also what
 * lets the owner acknowledge that audio's client frames, see `TurnHold`).
 */
export const TURN_ENDS: readonly string[] = [
  '"type":"input_audio_buffer.committed"',
  '"type":"input_audio_buffer.cleared"',
  '"type":"input_audio_buffer.speech_stopped"',
  '"type":"response.created"',
];
/** Client events that end (commit) or drop (clear) the audio appended so far. */
const SENT_TURN_ENDS = ['"type":"input_audio_buffer.commit"', '"type":"input_audio_buffer.clear"'];
const APPEND = '"type":"input_audio_buffer.append"';

/**
 * The audio of the user's turn in progress: the `input_audio_buffer.append` events sent to the provider since
 * the last commit. A provider session that is lost takes its input buffer with it, so this is what the next
 * provider session must get again, before the frames queued meanwhile, for the user's utterance to reach the
 * model whole. The turn ends when the client commits or clears, or when the provider commits it (server VAD's
 * `speech_stopped`, `input_audio_buffer.committed`) or starts a response. Bounded: beyond `maxBytes` the
 * oldest appends are dropped (the end of an utterance matters more than its start); 0 keeps nothing.
 */
export class UncommittedTurn {
  private appends: Array<string | Buffer> = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** An event was sent to the provider session. */
  sent(raw: string | Buffer): void {
    const head = typeof raw === 'string' ? raw.slice(0, EVENT_HEAD_CHARS) : eventHead(raw);
    if (head.includes(APPEND)) this.add(raw);
    else if (SENT_TURN_ENDS.some((type) => head.includes(type))) this.clear();
  }

  /** The provider sent an event (`head`: its first characters). */
  heard(head: string): void {
    if (head.includes('"type":"input_audio_buffer.') || head.includes('"type":"response.created"')) {
      if (TURN_ENDS.some((type) => head.includes(type))) this.clear();
    }
  }

  /** Appends held, oldest first. */
  get size(): number {
    return this.appends.length;
  }

  /** The appends of the turn, oldest first, emptying the buffer (they are recorded again as they are re-sent). */
  take(): Array<string | Buffer> {
    const out = this.appends;
    this.clear();
    return out;
  }

  private add(raw: string | Buffer): void {
    const n = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
    if (n > this.maxBytes) {
      this.clear();
      return;
    }
    this.appends.push(raw);
    this.bytes += n;
    let drop = 0;
    while (this.bytes > this.maxBytes) {
      const first = this.appends[drop++]!;
      this.bytes -= typeof first === 'string' ? Buffer.byteLength(first) : first.length;
    }
    if (drop > 0) this.appends = this.appends.slice(drop);
  }

  private clear(): void {
    this.appends = [];
    this.bytes = 0;
  }
}
