import { jsonDepthExceeds } from '@rtv/auth';
import {
  CloseCode,
  ErrorCode,
  encodePong,
  FrameKind,
  type FrameLimits,
  parseClientFrame,
  scanAudioFrame,
} from '@rtv/protocol';
import type { GatewayMetrics } from '../metrics.js';
import type { ClientSession } from '../routing/client-session.js';
import type { SessionRouter } from '../routing/session-router.js';

/** Deepest JSON nesting accepted; real messages nest 3 levels, so this only stops hostile frames early. */
export const MAX_JSON_DEPTH = 32;

/** What the intake needs of the connection layer (`SessionLifecycle`): rate admission, answers, closing. */
export interface ClientChannel {
  /** Spends one frame against the connection's rate buckets; false: drop the frame (the client was told). */
  admitFrame(session: ClientSession, bytes: number, isAudio: boolean): boolean;
  send(session: ClientSession, text: string): void;
  close(session: ClientSession, code: number, reason: string): void;
}

export interface ClientFrameIntakeDeps {
  /** Numbers each accepted frame and writes it to the session owner's stream (or holds it until a bind). */
  router: SessionRouter;
  client: ClientChannel;
  metrics: GatewayMetrics;
  limits: FrameLimits;
}

/** Pre-bound metric children of one frame type (a label lookup costs a hash per call). */
interface FrameTypeCounters {
  frames: { inc(): void };
  bytes: { inc(n: number): void };
}

/**
 * The client-frame hot path: every WebSocket message of a session comes through {@link onMessage}. One check or
 * parse, then either a local answer (ping, errors) or one numbered bus line via {@link SessionRouter.forward}.
 * Nothing here allocates per frame beyond what the frame itself needs: metric children are bound once per
 * type and there are no per-frame closures.
 */
export class ClientFrameIntake {
  private readonly byType = new Map<string, FrameTypeCounters>();

  constructor(private readonly deps: ClientFrameIntakeDeps) {}

  /** One client WebSocket message (uWS `message`). `message` is only valid during this call. */
  onMessage(session: ClientSession, message: ArrayBuffer, isBinary: boolean): void {
    if (session.closed) return;
    if (isBinary) {
      this.onBinaryAudio(session, message);
      return;
    }
    const view = new Uint8Array(message);
    if (this.onCanonicalAudio(session, view)) return;
    if (this.refusedTooDeep(session, view)) return;
    this.onParsedFrame(session, message);
  }

  /**
   * Extension: a binary frame is raw PCM16 mono 24 kHz audio, the same as an input_audio_buffer message
   * without the base64 cost on the client.
   */
  private onBinaryAudio(session: ClientSession, message: ArrayBuffer): void {
    const bytes = message.byteLength;
    const { client, limits } = this.deps;
    if (!client.admitFrame(session, bytes, true)) return;
    if (bytes === 0 || bytes % 2 !== 0) {
      this.countFrame('invalid', bytes);
      this.sendError(
        session,
        'invalid_audio',
        'Binary audio frames must carry PCM16 (an even, non-zero byte count)',
      );
      return;
    }
    if (bytes > limits.maxAudioBytes) {
      this.countFrame('invalid', bytes);
      this.deps.metrics.limitRejections.inc({ kind: 'audio_size' });
      this.sendError(
        session,
        'message_too_large',
        `Binary audio frames are limited to ${limits.maxAudioBytes} bytes`,
      );
      client.close(session, CloseCode.MessageTooBig, 'message too large');
      return;
    }
    this.countFrame('input_audio_binary', bytes);
    this.accept(session, FrameKind.Audio, Buffer.from(message).toString('base64'));
  }

  /**
   * The commonest frame, an audio chunk in the seed's canonical form, is checked byte by byte and its base64
   * copied straight into the bus line: no string, no JSON.parse. Returns false for anything else (the full
   * parser takes it).
   */
  private onCanonicalAudio(session: ClientSession, view: Uint8Array): boolean {
    const { limits } = this.deps;
    const audio = scanAudioFrame(view, limits.maxAudioBytes, limits.maxFrameBytes);
    if (audio === undefined) return false;
    if (!this.deps.client.admitFrame(session, view.byteLength, true)) return true;
    this.countFrame('conversation.item.input', view.byteLength);
    this.accept(session, FrameKind.Audio, view.subarray(audio.start, audio.end));
    return true;
  }

  /**
   * Refuses a frame nested deeper than {@link MAX_JSON_DEPTH} before it is parsed. Oversize frames are left
   * to the parser, which answers message_too_large before anything else.
   */
  private refusedTooDeep(session: ClientSession, view: Uint8Array): boolean {
    const bytes = view.byteLength;
    if (bytes > this.deps.limits.maxFrameBytes || !jsonDepthExceeds(view, MAX_JSON_DEPTH)) return false;
    this.countFrame('invalid', bytes);
    if (this.deps.client.admitFrame(session, bytes, false)) {
      this.sendError(
        session,
        'invalid_message',
        `The message is nested deeper than ${MAX_JSON_DEPTH} levels`,
      );
    }
    return true;
  }

  /** Any other text frame: the full parser, then a local answer (ping, errors) or one forwarded frame. */
  private onParsedFrame(session: ClientSession, message: ArrayBuffer): void {
    const bytes = message.byteLength;
    const { client, limits } = this.deps;
    const parsed = parseClientFrame(message, limits);
    const isAudio =
      parsed.ok &&
      parsed.message.type === 'conversation.item.input' &&
      parsed.message.conversation_item_input.type === 'input_audio_buffer';
    // An oversize frame is answered with message_too_large and a 1009 close below, not counted as a rate.
    if (bytes <= limits.maxFrameBytes && !client.admitFrame(session, bytes, isAudio)) return;
    if (!parsed.ok) {
      this.countFrame('invalid', bytes);
      const { error } = parsed;
      this.sendError(session, error.code, error.message, error.field, error.eventId);
      if (error.code === 'message_too_large') {
        this.deps.metrics.limitRejections.inc({ kind: 'frame_size' });
        client.close(session, CloseCode.MessageTooBig, 'message too large');
      }
      return;
    }
    const msg = parsed.message;
    this.countFrame(msg.type, bytes);
    if (msg.type === 'ping') {
      // Answered here, never forwarded: the seed's pong echoes the ping's timestamp at the top level.
      client.send(session, encodePong(msg.ping.timestamp));
      return;
    }
    if (msg.type === 'conversation.item.input' && msg.conversation_item_input.type === 'input_audio_buffer') {
      this.accept(session, FrameKind.Audio, msg.conversation_item_input.audio);
      return;
    }
    this.accept(session, FrameKind.Json, JSON.stringify(msg));
  }

  private accept(session: ClientSession, kind: FrameKind, payload: string | Uint8Array): void {
    acceptFrame(this.deps, session, kind, payload);
  }

  private sendError(
    session: ClientSession,
    code: ErrorCode,
    message: string,
    field?: string,
    eventId?: string,
  ): void {
    this.deps.metrics.errors.inc({ code });
    this.deps.client.send(session, session.dialect.error(code, message, field, eventId));
  }

  private countFrame(type: string, bytes: number): void {
    let child = this.byType.get(type);
    if (!child) {
      const { metrics } = this.deps;
      child = { frames: metrics.framesIn.tally({ type }), bytes: metrics.bytesIn.tally({ type }) };
      this.byType.set(type, child);
    }
    child.frames.inc();
    child.bytes.inc(bytes);
  }
}

const REPLAY_BUDGET_MESSAGE =
  'This gateway holds as much unacknowledged input as its memory allows, and this connection holds more than its share; resume shortly';

/**
 * Forwards one accepted frame (numbered, kept for replay, written to the owner's stream or held until a bind);
 * `payload` may be a view into the frame: it is copied into the bus line before this returns. A frame that
 * cannot be kept is refused: before the first bind past the pending budget (`rate_limited`), or when the
 * replay buffer holds as much unacknowledged input as it may (acks stopped: Redis or the owner is away), or the
 * gateway's sessions together hold `RTV_GATEWAY_REPLAY_MAX_BYTES` and this one more than its share. These refuse
 * the frame rather than dropping an older one and closes the socket with 1013: the client
 * resumes, and the frames taken before are kept for the owner (held through a Redis outage by
 * `SessionRecovery`).
 */
export function acceptFrame(
  deps: Pick<ClientFrameIntakeDeps, 'router' | 'client' | 'metrics'>,
  session: ClientSession,
  kind: FrameKind,
  payload: string | Uint8Array,
): void {
  const outcome = deps.router.forward(session, kind, payload);
  if (outcome === 'accepted') return;
  const refusal =
    outcome === 'replay_full'
      ? {
          kind: 'replay_buffer',
          code: 'replay_buffer_full' as const,
          message: ErrorCode.replay_buffer_full.message,
        }
      : outcome === 'replay_budget'
        ? {
            kind: 'replay_budget',
            code: 'replay_buffer_full' as const,
            message: REPLAY_BUDGET_MESSAGE,
          }
        : {
            kind: 'pending_frames',
            code: 'rate_limited' as const,
            message: 'Too many frames before the session was ready; slow down and resend after a moment',
          };
  deps.metrics.limitRejections.inc({ kind: refusal.kind });
  deps.metrics.errors.inc({ code: refusal.code });
  deps.client.send(session, session.dialect.error(refusal.code, refusal.message));
  if (outcome !== 'pending_full') deps.client.close(session, CloseCode.TryAgainLater, 'replay buffer full');
}
