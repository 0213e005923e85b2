import type { Keys, StreamWriter } from '@rtv/bus';
import {
  type ClientMessage,
  CloseCode,
  encodeCloseLine,
  encodeError,
  encodeMessageLine,
  encodeResponseAudio,
  encodeResponseDelta,
  encodeResponseDone,
  encodeSessionUpdate,
  encodeSpeechStarted,
  encodeSpeechStopped,
  type FrameKind,
  nowSeconds,
  type SessionInfo,
} from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { WorkerMetrics } from '../metrics.js';
import {
  buildAudioAppend,
  buildSessionUpdate,
  buildTextTurn,
  extractAudioDelta,
  publicErrorFor,
  type SessionConfig,
  TEXT_DELTA_EVENTS,
  TEXT_DONE_EVENTS,
} from '../upstream/event-mapping.js';
import {
  ProviderConnectError,
  ProviderConnection,
  type ProviderConnectionOptions,
} from '../upstream/provider-connection.js';
import type { HistoryItem, SessionState } from './session-state.js';

export interface SessionRunnerDeps {
  keys: Keys;
  writer: StreamWriter;
  log: Logger;
  metrics: WorkerMetrics;
  provider: ProviderConnectionOptions;
  /** Persists a conversation item (capped list with TTL). */
  appendHistory: (sid: string, item: HistoryItem) => void;
  /** Persists the effective config after a client session.update. */
  saveConfig: (sid: string, config: SessionConfig) => void;
  /** Frames held while the provider connects. @defaultValue 1000 */
  maxQueuedFrames?: number;
  /** Connect attempts before the client is told the provider is unavailable. @defaultValue 3 */
  connectAttempts?: number;
}

type EndReason = 'client_closed' | 'client_gone' | 'upstream_failed' | 'lease_lost' | 'worker_stopping';

/**
 * One live session on this worker: applies the gateway's numbered client frames in order (dropping repeats),
 * talks to the provider, and sends public-protocol messages back through the gateway's stream, stamped with
 * this owner's epoch. `done` resolves when the session ends; the BullMQ job (the lease) ends with it.
 */
export class SessionRunner {
  readonly done: Promise<EndReason>;
  /** Highest client seq applied (or dropped as a repeat). */
  appliedSeq: number;
  /** appliedSeq at the last progress write; the owner acks and persists only when they differ. */
  savedSeq: number;
  private outSeq = 0;
  private resolveDone!: (reason: EndReason) => void;
  private ended = false;
  private provider: ProviderConnection | undefined;
  private ready = false;
  private queued: Array<[FrameKind, string]> = [];
  private pendingSessionUpdates = 0;
  private assistantText = '';
  private turnStartedAt: number | undefined;
  private firstAudioSeen = false;

  constructor(
    readonly state: SessionState,
    private readonly deps: SessionRunnerDeps,
  ) {
    this.appliedSeq = state.lastSeq;
    this.savedSeq = state.lastSeq;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get sid(): string {
    return this.state.sid;
  }

  /** Connects the provider (retrying transient failures), configures it, then applies queued frames. */
  async start(): Promise<void> {
    const attempts = this.deps.connectAttempts ?? 3;
    for (let attempt = 1; !this.ended; attempt++) {
      const provider = new ProviderConnection(this.deps.provider, {
        onEvent: (raw) => this.onProviderEvent(raw),
        onClose: (code) => this.onProviderClosed(code),
      });
      const started = performance.now();
      try {
        await provider.connect();
        this.deps.metrics.upstreamConnect.observe((performance.now() - started) / 1000);
        this.provider = provider;
        break;
      } catch (err) {
        const retryable = err instanceof ProviderConnectError && err.retryable;
        this.deps.metrics.upstreamErrors.inc({ code: retryable ? 'connect_retryable' : 'connect_fatal' });
        this.deps.log.warn(
          { sid: this.sid, attempt, err: (err as Error).message },
          'provider connect failed',
        );
        if (!retryable || attempt >= attempts) {
          this.fail('The speech provider is unavailable; try again later');
          return;
        }
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt * (0.5 + Math.random() / 2)));
      }
    }
    if (this.ended || !this.provider) {
      this.provider?.close();
      return;
    }
    this.provider.send(buildSessionUpdate(this.state.config, this.deps.provider.shape));
    this.ready = true;
    const queued = this.queued;
    this.queued = [];
    for (const [kind, payload] of queued) this.dispatch(kind, payload);
  }

  /** Applies one client frame from the bus. Repeats (seq already applied) are dropped: exactly once. */
  apply(seq: number, kind: FrameKind, payload: string): void {
    if (this.ended || seq <= this.appliedSeq) {
      this.deps.metrics.duplicateFrames.inc();
      return;
    }
    this.appliedSeq = seq;
    if (!this.ready) {
      if (this.queued.length >= (this.deps.maxQueuedFrames ?? 1000)) {
        this.deps.metrics.droppedFrames.inc({ reason: 'connect_queue_full' });
        return;
      }
      this.queued.push([kind, payload]);
      return;
    }
    this.dispatch(kind, payload);
  }

  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.ready = false;
    this.provider?.close();
    this.resolveDone(reason);
  }

  private dispatch(kind: FrameKind, payload: string): void {
    const provider = this.provider!;
    if (kind === 'a') {
      provider.send(buildAudioAppend(payload));
      this.deps.metrics.framesToProvider.inc({ type: 'audio' });
      return;
    }
    let msg: ClientMessage;
    try {
      msg = JSON.parse(payload) as ClientMessage;
    } catch {
      this.deps.log.warn({ sid: this.sid }, 'unparseable JSON frame from the gateway dropped');
      return;
    }
    this.deps.metrics.framesToProvider.inc({ type: msg.type });
    const shape = this.deps.provider.shape;
    switch (msg.type) {
      case 'session.update': {
        const update = msg.session_update;
        const config: SessionConfig = { ...this.state.config };
        for (const [k, v] of Object.entries(update)) {
          if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v;
        }
        this.state.config = config;
        this.pendingSessionUpdates++;
        provider.send(buildSessionUpdate(config, shape));
        this.deps.saveConfig(this.sid, config);
        return;
      }
      case 'conversation.item.input': {
        const input = msg.conversation_item_input;
        if (input.type === 'input_text') {
          for (const event of buildTextTurn(input.text, shape)) provider.send(event);
          this.deps.appendHistory(this.sid, { role: 'user', type: 'text', text: input.text, at: Date.now() });
          this.startTurn();
        } else {
          provider.send(buildAudioAppend(input.audio));
        }
        return;
      }
      case 'input_audio_buffer.commit':
        provider.send('{"type":"input_audio_buffer.commit"}');
        return;
      case 'response.create':
        provider.send(
          shape === 'beta' ? '{"type":"response.create","response":{}}' : '{"type":"response.create"}',
        );
        this.startTurn();
        return;
      case 'response.cancel':
        provider.send('{"type":"response.cancel"}');
        return;
      default:
        return;
    }
  }

  private startTurn(): void {
    this.turnStartedAt = performance.now();
    this.firstAudioSeen = false;
  }

  private onProviderEvent(raw: string): void {
    if (this.ended) return;
    const audio = extractAudioDelta(raw);
    if (audio !== undefined) {
      this.noteFirstAudio();
      this.emit(encodeResponseAudio(audio, nowSeconds()));
      return;
    }
    let event: { type?: unknown; [k: string]: unknown };
    try {
      event = JSON.parse(raw);
    } catch {
      this.deps.metrics.upstreamErrors.inc({ code: 'unparseable_event' });
      return;
    }
    const type = typeof event.type === 'string' ? event.type : '';
    if (TEXT_DELTA_EVENTS.has(type)) {
      const delta = typeof event.delta === 'string' ? event.delta : '';
      this.assistantText += delta;
      if (delta) this.emit(encodeResponseDelta(delta, nowSeconds()));
      return;
    }
    if (TEXT_DONE_EVENTS.has(type)) return;
    switch (type) {
      case 'response.output_audio.delta':
      case 'response.audio.delta':
        if (typeof event.delta === 'string') {
          this.noteFirstAudio();
          this.emit(encodeResponseAudio(event.delta, nowSeconds()));
        }
        return;
      case 'input_audio_buffer.speech_started':
        this.deps.metrics.speechStarts.inc();
        this.emit(encodeSpeechStarted(numberField(event, 'audio_start_ms'), nowSeconds()));
        return;
      case 'input_audio_buffer.speech_stopped':
        this.emit(encodeSpeechStopped(numberField(event, 'audio_end_ms'), nowSeconds()));
        this.startTurn();
        return;
      case 'response.done':
        this.onResponseDone(event.response as ProviderResponse | undefined);
        return;
      case 'session.updated':
        if (this.pendingSessionUpdates > 0) {
          this.pendingSessionUpdates--;
          this.emit(encodeSessionUpdate(this.sessionView()));
        }
        return;
      case 'error':
        this.onProviderError(event.error as { code?: string | null; type?: string } | undefined);
        return;
      default:
        return;
    }
  }

  private onResponseDone(response: ProviderResponse | undefined): void {
    const usage = response?.usage;
    const input = usage?.input_tokens ?? 0;
    const output = usage?.output_tokens ?? 0;
    const model = this.deps.provider.model;
    this.deps.metrics.tokens.inc({ model, direction: 'input' }, input);
    this.deps.metrics.tokens.inc({ model, direction: 'output' }, output);
    this.deps.metrics.turns.inc({ status: response?.status ?? 'unknown' });
    if (this.assistantText) {
      this.deps.appendHistory(this.sid, {
        role: 'assistant',
        type: 'text',
        text: this.assistantText,
        at: Date.now(),
      });
    }
    this.assistantText = '';
    this.turnStartedAt = undefined;
    if (response?.status === 'failed') {
      const failure = response.status_details?.error;
      this.deps.metrics.upstreamErrors.inc({ code: failure?.code ?? 'response_failed' });
      const mapped = publicErrorFor(failure?.code, failure?.type);
      this.emit(encodeError(mapped.code, mapped.message));
    }
    this.emit(
      encodeResponseDone({ input_tokens: input, output_tokens: output }, nowSeconds(), {
        ...(response?.id ? { id: response.id } : {}),
        ...(response?.status ? { status: response.status } : {}),
      }),
    );
  }

  private onProviderError(error: { code?: string | null; type?: string } | undefined): void {
    const mapped = publicErrorFor(error?.code, error?.type);
    this.deps.metrics.upstreamErrors.inc({ code: error?.code ?? 'none' });
    this.deps.log.warn(
      { sid: this.sid, providerCode: error?.code, providerType: error?.type },
      'provider error',
    );
    this.emit(encodeError(mapped.code, mapped.message));
  }

  private onProviderClosed(code: number): void {
    if (this.ended) return;
    this.deps.metrics.upstreamErrors.inc({ code: `closed_${code}` });
    this.deps.log.warn({ sid: this.sid, code }, 'provider closed the session');
    this.fail('The speech provider ended the session unexpectedly');
  }

  private noteFirstAudio(): void {
    if (this.firstAudioSeen || this.turnStartedAt === undefined) return;
    this.firstAudioSeen = true;
    this.deps.metrics.timeToFirstAudio.observe((performance.now() - this.turnStartedAt) / 1000);
  }

  private fail(message: string): void {
    if (this.ended) return;
    this.emit(encodeError('upstream_unavailable', message));
    this.deps.writer.write(
      this.deps.keys.gatewayOut(this.state.gatewayId),
      encodeCloseLine(this.sid, this.state.epoch, CloseCode.InternalError, 'upstream unavailable'),
    );
    this.end('upstream_failed');
  }

  /** Sends a public-protocol message to the client through its gateway's stream. */
  private emit(payload: string): void {
    this.deps.metrics.framesToClient.inc();
    this.deps.writer.write(
      this.deps.keys.gatewayOut(this.state.gatewayId),
      encodeMessageLine(this.sid, this.state.epoch, ++this.outSeq, payload),
    );
  }

  private sessionView(): SessionInfo {
    const { config } = this.state;
    return {
      id: this.sid,
      voice: config.voice as SessionInfo['voice'],
      language: config.language,
      ...(config.instructions !== undefined ? { instructions: config.instructions } : {}),
      temperature: config.temperature,
      max_response_output_tokens: config.max_response_output_tokens,
      modalities: config.modalities as SessionInfo['modalities'],
      ...(config.turn_detection !== undefined ? { turn_detection: config.turn_detection } : {}),
    };
  }
}

interface ProviderResponse {
  id?: string;
  status?: 'completed' | 'cancelled' | 'incomplete' | 'failed';
  status_details?: { error?: { type?: string; code?: string } } | null;
  usage?: { input_tokens?: number; output_tokens?: number };
}

function numberField(event: Record<string, unknown>, name: string): number {
  const v = event[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
