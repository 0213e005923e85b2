import { FrameRing } from '@rtv/bus';
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
 *
 * The appends are copied into a {@link FrameRing} (16 KiB chunks from the process's pool) rather than kept as
 * the Buffers that were sent: those are slices of Node's shared 8 KiB allocation slabs, and holding one for
 * seconds holds its whole slab, with the short-lived buffers cut from it beside the append, so a long turn kept
 * about three times its own size and faulted in fresh memory all along.
 */
export class UncommittedTurn {
  private readonly appends: FrameRing;
  private lastSeq = 0;

  constructor(maxBytes: number) {
    this.appends = new FrameRing(maxBytes);
  }

  /** An event was sent to the provider session. */
  sent(raw: string | Buffer): void {
    const head = typeof raw === 'string' ? raw.slice(0, EVENT_HEAD_CHARS) : eventHead(raw);
    if (head.includes(APPEND)) this.appends.push(++this.lastSeq, raw);
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
    return this.appends.size.frames;
  }

  /** Bytes of the appends held. */
  get bytes(): number {
    return this.appends.size.bytes;
  }

  /** The appends of the turn, oldest first (copies), emptying the buffer (they are recorded again as they are re-sent). */
  take(): Buffer[] {
    const out = this.appends.all();
    this.clear();
    return out;
  }

  private clear(): void {
    this.appends.dropThrough(this.lastSeq);
  }
}
