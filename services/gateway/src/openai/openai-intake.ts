import {
  CloseCode,
  type CompatError,
  type CompatPolicy,
  compatErrorFor,
  encodeCompatError,
  FrameKind,
  type FrameLimits,
  validateCompatClientEvent,
} from '@rtv/protocol';
import type { GatewayMetrics } from '../metrics.js';
import type { ClientSession } from '../routing/client-session.js';
import type { SessionRouter } from '../routing/session-router.js';
import type { ClientChannel } from '../ws/frame-intake.js';
import { acceptFrame } from '../ws/frame-intake.js';

export interface OpenAiIntakeDeps {
  router: SessionRouter;
  client: ClientChannel;
  metrics: GatewayMetrics;
  limits: FrameLimits;
  policy: CompatPolicy;
}

type Json = Record<string, unknown>;

/**
 * The client-frame path of the OpenAI-compatible route: every message is one provider client event.
 * `input_audio_buffer.append` takes a byte path (its base64 is copied from the frame into the bus line, no
 * parse); any other event is checked against the provider's published shapes, the deployment's policy is
 * applied to `session.update` and `response.create`, and it is forwarded as JSON. A bad event gets the
 * provider's `error` event and the socket stays open; an oversize one is also closed with 1009.
 */
export class OpenAiFrameIntake {
  private readonly limits: { maxFrameBytes: number; maxAudioBytes: number };

  constructor(private readonly deps: OpenAiIntakeDeps) {
    this.limits = { maxFrameBytes: deps.limits.maxFrameBytes, maxAudioBytes: deps.limits.maxAudioBytes };
  }

  onMessage(session: ClientSession, message: ArrayBuffer, isBinary: boolean): void {
    if (session.closed) return;
    const view = new Uint8Array(message);
    const { client, metrics } = this.deps;
    const bytes = view.byteLength;
    if (isBinary) {
      if (!client.admitFrame(session, bytes, true)) return;
      this.count('invalid', bytes);
      this.sendError(session, {
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: 'Binary frames are not part of the Realtime protocol: send input_audio_buffer.append events',
      });
      return;
    }
    const result = validateCompatClientEvent(view, this.limits);
    const oversize = !result.ok && result.error.code === 'message_too_large';
    if (!oversize && !client.admitFrame(session, bytes, result.ok && result.kind === 'audio')) return;
    if (!result.ok) {
      this.count('invalid', bytes);
      this.sendError(session, result.error);
      if (oversize) {
        metrics.limitRejections.inc({ kind: 'frame_size' });
        client.close(session, CloseCode.MessageTooBig, 'message too large');
      }
      return;
    }
    if (result.kind === 'audio') {
      this.count('input_audio_buffer.append', bytes);
      acceptFrame(this.deps, session, FrameKind.Audio, view.subarray(result.audio.start, result.audio.end));
      return;
    }
    this.count(result.type, bytes);
    const json = this.withPolicy(session, result.type, result.json, result.eventId);
    if (json !== undefined) acceptFrame(this.deps, session, FrameKind.Json, json);
  }

  /**
   * The policy's rules for the two events that carry settings (the session's and a response's); the event as
   * the provider should get it, or undefined when it was refused (the client was told `setting_forbidden`).
   */
  private withPolicy(
    session: ClientSession,
    type: string,
    json: string,
    eventId: string | undefined,
  ): string | undefined {
    if (type !== 'session.update' && type !== 'response.create') return json;
    const userClass = session.config?.openai?.userClass ?? 'default';
    const event = JSON.parse(json) as Json;
    if (type === 'session.update') keepConnectedModel(event, session.config?.openai?.model);
    const { policy } = this.deps;
    const result =
      type === 'session.update'
        ? policy.applySessionUpdate(userClass, (event.session ?? {}) as Json)
        : policy.applyResponseCreate(userClass, event.response as Json | undefined);
    if (!result.ok) {
      this.deps.metrics.limitRejections.inc({ kind: 'policy' });
      this.sendError(session, compatErrorFor('setting_forbidden', result.message, result.param, eventId));
      return undefined;
    }
    if ('session' in result) event.session = result.session;
    else if (result.response !== undefined) event.response = result.response;
    return JSON.stringify(event);
  }

  private sendError(session: ClientSession, error: CompatError): void {
    this.deps.metrics.errors.inc({ code: error.code });
    this.deps.client.send(session, encodeCompatError(error));
  }

  private count(type: string, bytes: number): void {
    this.deps.metrics.framesIn.inc({ type });
    this.deps.metrics.bytesIn.inc({ type }, bytes);
  }
}

/**
 * The provider serves the model the connection named (`?model=`) and ignores another `session.model`;
 * SDKs send their own default there (`@openai/agents-realtime` sends `gpt-realtime-2.1` unless told), so such a
 * model is replaced by the connected one rather than refused by the policy's model list.
 */
function keepConnectedModel(event: Json, connected: string | undefined): void {
  const session = event.session as Json | undefined;
  if (connected === undefined || typeof session?.model !== 'string' || session.model === connected) return;
  event.session = { ...session, model: connected };
}
