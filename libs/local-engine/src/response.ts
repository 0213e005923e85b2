import type {
  RealtimeApiShape,
  RealtimeResponseStatus,
  RealtimeResponseStatusDetails,
  RealtimeUsage,
} from '@rtv/protocol/openai-realtime';
import { pcmBytes, pcmDurationMs } from './audio.js';
import { audioBytes, type Conversation, type StoredContent, type StoredItem } from './conversation.js';
import { newId, randomBase62 } from './ids.js';
import type { ResponseParams } from './response-params.js';
import { PCM_24K } from './session-config.js';
import {
  betaUsage,
  buildUsage,
  outputAudioTokens,
  rateLimits,
  type TokenCount,
  textTokens,
} from './usage.js';
import type { Json } from './validate.js';

/** What the run needs from its connection. Events are named in GA terms; the host renames them for beta. */
export interface ResponseHost {
  readonly shape: RealtimeApiShape;
  /** Pace deltas at playback speed (true) or emit them as fast as the event loop allows. */
  readonly realtime: boolean;
  readonly conversation: Conversation;
  send(type: string, payload: Json): void;
  renderItem(item: StoredItem): Json;
  synthesize(text: string, voice: string, speed: number): Promise<Buffer>;
  /** Called exactly once, right after `response.done`. */
  finished(run: ResponseRun): void;
}

/** What the response produces, decided up front from the conversation. */
export type ResponsePlan =
  | { kind: 'message'; text: string }
  | { kind: 'function_call'; name: string; arguments: string }
  | { kind: 'failed'; error: { type: string; code: string; message: string } };

export interface ResponseSpec extends ResponseParams {
  plan: ResponsePlan;
  /** Prompt token count (for usage). */
  input: TokenCount;
  /** Tokens of this prompt the previous response already sent (prompt-cache hits). */
  cachedPrefix: number;
}

/** 100 ms of PCM16 24 kHz per `output_audio.delta`, the provider's typical chunk. */
const AUDIO_CHUNK_MS = 100;
/** Spacing of text-only deltas when pacing (~40 deltas/s, about the provider's token rate). */
const TEXT_DELTA_MS = 25;
/** Deltas emitted per event-loop turn when not pacing, so one long reply cannot starve other sockets. */
const BATCH = 64;

interface Tick {
  atMs: number;
  text: string[];
  audio: Buffer | null;
}

/**
 * One response, from `response.created` to `response.done` + `rate_limits.updated`, in the exact §8.1 order.
 * Cancellation (client or barge-in) and token limits close every open part and item before `response.done`.
 */
export class ResponseRun {
  readonly id = newId('resp');
  private status: RealtimeResponseStatus = 'in_progress';
  private details: RealtimeResponseStatusDetails = null;
  private usage: RealtimeUsage | null = null;
  private item: StoredItem | null = null;
  private part: StoredContent | null = null;
  private previousItemId: string | null = null;
  /** An output item (and its content part) has been announced and not yet closed with `*.done`. */
  private open = false;
  /** The planned delta schedule and the index of the next tick to emit. */
  private ticks: Tick[] = [];
  private next = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private text = '';
  private audio: Buffer[] = [];
  /** `max_output_tokens` cut the reply short: the response ends `incomplete`. */
  private limited = false;

  constructor(
    private readonly host: ResponseHost,
    readonly spec: ResponseSpec,
  ) {}

  get active(): boolean {
    return this.status === 'in_progress';
  }

  get inConversation(): boolean {
    return this.spec.conversation === 'auto';
  }

  start(): void {
    this.host.send('response.created', { response: this.render() });
    const plan = this.spec.plan;
    if (plan.kind === 'failed') {
      this.finish('failed', { type: 'failed', error: plan.error });
    } else if (plan.kind === 'function_call') {
      this.startFunctionCall(plan.name, plan.arguments);
    } else {
      this.startMessage(plan.text);
    }
  }

  /** Stops the run and emits the closing events. Returns false when it had already finished. */
  cancel(reason: 'turn_detected' | 'client_cancelled'): boolean {
    if (!this.active) return false;
    this.stopTimer();
    this.closeOutput('incomplete');
    this.finish('cancelled', { type: 'cancelled', reason });
    return true;
  }

  /** The socket is gone: stop silently. */
  dispose(): void {
    this.stopTimer();
    this.status = 'cancelled';
  }

  private get locator(): Json {
    return { response_id: this.id, item_id: this.item?.id, output_index: 0, content_index: 0 };
  }

  private get audioOut(): boolean {
    return this.spec.outputModalities[0] === 'audio';
  }

  /** output_item.added, then (default conversation only) conversation.item.added right after it. */
  private addItem(item: StoredItem): void {
    this.item = item;
    const rendered = this.host.renderItem(item);
    this.host.send('response.output_item.added', { response_id: this.id, output_index: 0, item: rendered });
    if (this.inConversation) {
      this.previousItemId = this.host.conversation.insert(item);
      this.host.send('conversation.item.added', { previous_item_id: this.previousItemId, item: rendered });
    }
    this.open = true;
  }

  /**
   * Assistant message: content_part.added, then deltas. Audio waits for synthesis; a cancel that lands
   * meanwhile has already closed the part, so the late audio is dropped.
   */
  private startMessage(text: string): void {
    this.addItem({
      id: newId('item'),
      type: 'message',
      role: 'assistant',
      status: 'in_progress',
      content: [],
    });
    this.part = this.audioOut
      ? { type: 'output_audio', transcript: '', audioMs: 0, audio: null }
      : { type: 'output_text', text: '' };
    (this.item as Extract<StoredItem, { type: 'message' }>).content.push(this.part);
    this.host.send('response.content_part.added', {
      ...this.locator,
      part: this.audioOut ? { type: 'audio', transcript: '' } : { type: 'text', text: '' },
    });
    if (!this.audioOut) {
      this.schedule(this.limitText(words(text), null));
      return;
    }
    this.host.synthesize(text, this.spec.voice, this.spec.speed).then(
      (pcm) => {
        if (this.active) this.schedule(this.limitText(words(text), pcm));
      },
      () => {
        if (!this.active) return;
        this.closeOutput('incomplete');
        const error = { type: 'server_error', code: 'server_error', message: 'Audio synthesis failed.' };
        this.finish('failed', { type: 'failed', error });
      },
    );
  }

  /** §8.4: a function_call item whose JSON arguments stream as `function_call_arguments.delta`. */
  private startFunctionCall(name: string, args: string): void {
    this.addItem({
      id: newId('item'),
      type: 'function_call',
      status: 'in_progress',
      call_id: newId('call'),
      name,
      arguments: '',
    });
    const pieces = args.match(/[\s\S]{1,16}/g) ?? [];
    this.ticks = pieces.map((piece, i) => ({ atMs: i * TEXT_DELTA_MS, text: [piece], audio: null }));
    this.begin();
  }

  /**
   * Applies `max_output_tokens`: keeps the leading share of words and audio that fits and marks the response
   * `incomplete`, the way the provider cuts a reply mid-sentence.
   */
  private limitText(list: string[], pcm: Buffer | null): Tick[] {
    const max = this.spec.maxOutputTokens;
    const full = textTokens(list.join('')) + (pcm ? outputAudioTokens(pcmDurationMs(pcm.length)) : 0);
    let kept = list;
    let audio = pcm;
    if (max !== 'inf' && full > max) {
      const share = max / full;
      kept = list.slice(0, Math.floor(list.length * share));
      audio = pcm ? pcm.subarray(0, pcmBytes(pcmDurationMs(pcm.length) * share)) : null;
      this.limited = true;
    }
    return audio
      ? interleave(kept, audio)
      : kept.map((w, i) => ({ atMs: i * TEXT_DELTA_MS, text: [w], audio: null }));
  }

  private schedule(ticks: Tick[]): void {
    this.ticks = ticks;
    this.begin();
  }

  private begin(): void {
    this.startedAt = performance.now();
    this.pump();
  }

  /**
   * Emits due ticks. Paced: tick i is due at start + i×100 ms (the first at once). Unpaced: everything is
   * due, in batches that yield to the event loop between them.
   */
  private pump = (): void => {
    this.timer = null;
    this.immediate = null;
    if (!this.active) return;
    const elapsed = performance.now() - this.startedAt;
    let budget = BATCH;
    while (this.next < this.ticks.length && budget-- > 0) {
      const tick = this.ticks[this.next]!;
      if (this.host.realtime && tick.atMs > elapsed) break;
      this.next++;
      this.emit(tick);
      // A send can fail the socket and dispose this run synchronously.
      if (!this.active) return;
    }
    if (this.next >= this.ticks.length) {
      this.complete();
      return;
    }
    const wait = this.host.realtime ? this.ticks[this.next]!.atMs - elapsed : 0;
    if (wait > 0) this.timer = setTimeout(this.pump, wait);
    else this.immediate = setImmediate(this.pump);
  };

  private emit(tick: Tick): void {
    const item = this.item!;
    if (item.type === 'function_call') {
      const delta = tick.text[0]!;
      item.arguments += delta;
      this.host.send('response.function_call_arguments.delta', {
        response_id: this.id,
        item_id: item.id,
        output_index: 0,
        call_id: item.call_id,
        delta,
      });
      return;
    }
    const textType = this.audioOut ? 'response.output_audio_transcript.delta' : 'response.output_text.delta';
    for (const delta of tick.text) {
      this.text += delta;
      const payload: Json = { ...this.locator, delta };
      // GA pads text deltas with a random `obfuscation` string; clients must ignore it.
      if (this.host.shape === 'ga') payload.obfuscation = randomBase62(8 + (delta.length % 8));
      this.host.send(textType, payload);
    }
    if (tick.audio) {
      this.audio.push(tick.audio);
      this.host.send('response.output_audio.delta', {
        ...this.locator,
        delta: tick.audio.toString('base64'),
      });
    }
  }

  private complete(): void {
    this.closeOutput(this.limited ? 'incomplete' : 'completed');
    this.finish(
      this.limited ? 'incomplete' : 'completed',
      this.limited ? { type: 'incomplete', reason: 'max_output_tokens' } : null,
    );
  }

  /** Emits the `*.done` events of whatever is still open, with the content produced so far. */
  private closeOutput(status: 'completed' | 'incomplete'): void {
    if (!this.open || !this.item) return;
    this.open = false;
    const item = this.item;
    const before = audioBytes(item);
    if (item.type === 'function_call') {
      this.host.send('response.function_call_arguments.done', {
        response_id: this.id,
        item_id: item.id,
        output_index: 0,
        call_id: item.call_id,
        name: item.name,
        arguments: item.arguments,
      });
    } else if (this.part?.type === 'output_audio') {
      const pcm = Buffer.concat(this.audio);
      Object.assign(this.part, { transcript: this.text, audio: pcm, audioMs: pcmDurationMs(pcm.length) });
      this.host.send('response.output_audio.done', this.locator);
      this.host.send('response.output_audio_transcript.done', { ...this.locator, transcript: this.text });
      this.host.send('response.content_part.done', {
        ...this.locator,
        part: { type: 'audio', transcript: this.text },
      });
    } else if (this.part?.type === 'output_text') {
      this.part.text = this.text;
      this.host.send('response.output_text.done', { ...this.locator, text: this.text });
      this.host.send('response.content_part.done', {
        ...this.locator,
        part: { type: 'text', text: this.text },
      });
    }
    item.status = status;
    const rendered = this.host.renderItem(item);
    if (this.inConversation) {
      this.host.conversation.updated(before, item);
      this.host.send('conversation.item.done', { previous_item_id: this.previousItemId, item: rendered });
    }
    this.host.send('response.output_item.done', { response_id: this.id, output_index: 0, item: rendered });
  }

  /** response.done with usage for what was actually produced, then rate_limits.updated (GA puts it last). */
  private finish(status: RealtimeResponseStatus, details: RealtimeResponseStatusDetails): void {
    this.status = status;
    this.details = details;
    const audioMs = pcmDurationMs(this.audio.reduce((n, b) => n + b.length, 0));
    const produced = this.item?.type === 'function_call' ? this.item.arguments : this.text;
    const failed = status === 'failed';
    // A failed response still reports usage, all zeros, like the provider's.
    this.usage = failed
      ? buildUsage({ text: 0, audio: 0, image: 0 }, 0, { text: 0, audio: 0 })
      : buildUsage(this.spec.input, this.spec.cachedPrefix, {
          text: textTokens(produced),
          audio: outputAudioTokens(audioMs),
        });
    this.host.send('response.done', { response: this.render() });
    if (!failed)
      this.host.send('rate_limits.updated', { rate_limits: rateLimits(this.host.shape, this.usage) });
    this.host.finished(this);
  }

  private stopTimer(): void {
    // Timers and immediates are different handles; each is cleared by its own function.
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.immediate = null;
  }

  /** The response object for `response.created` / `response.done`, in the connection's shape. */
  private render(): Json {
    const spec = this.spec;
    const base: Json = {
      object: 'realtime.response',
      id: this.id,
      status: this.status,
      status_details: this.details,
      output: this.item && this.status !== 'in_progress' ? [this.host.renderItem(this.item)] : [],
      conversation_id: this.inConversation ? this.host.conversation.id : null,
    };
    const usage = this.usage && this.host.shape === 'beta' ? betaUsage(this.usage) : this.usage;
    if (this.host.shape === 'beta') {
      return {
        ...base,
        modalities: this.audioOut ? ['text', 'audio'] : ['text'],
        voice: spec.voice,
        output_audio_format: 'pcm16',
        temperature: spec.temperature,
        max_output_tokens: spec.maxOutputTokens,
        usage,
        metadata: spec.metadata,
      };
    }
    return {
      ...base,
      output_modalities: spec.outputModalities,
      max_output_tokens: spec.maxOutputTokens,
      audio: { output: { format: PCM_24K, voice: spec.voice } },
      usage,
      metadata: spec.metadata,
    };
  }
}

/** Word-sized text deltas with their leading space, as the provider streams them (`"Hi"`, `" there"`, `","`). */
export function words(text: string): string[] {
  return text.match(/\s*[^\s.,!?;:]+|\s*[.,!?;:]+/g) ?? [];
}

/**
 * One tick per 100 ms audio chunk; transcript words are spread over the ticks so the transcript runs slightly
 * ahead of the audio, as it does upstream.
 */
function interleave(list: string[], pcm: Buffer): Tick[] {
  const chunk = pcmBytes(AUDIO_CHUNK_MS);
  const count = Math.max(1, Math.ceil(pcm.length / chunk));
  const ticks: Tick[] = [];
  for (let i = 0; i < count; i++) {
    const from = Math.ceil((i * list.length) / count);
    const to = Math.ceil(((i + 1) * list.length) / count);
    const audio = pcm.subarray(i * chunk, (i + 1) * chunk);
    ticks.push({ atMs: i * AUDIO_CHUNK_MS, text: list.slice(from, to), audio: audio.length ? audio : null });
  }
  return ticks;
}
