// Label values stay bounded however hostile the input: close codes come from clients, error codes and event
// types from the provider. And the frame-type sniffing used for `type` labels agrees with the encoders.
import {
  encodeError,
  encodeNotice,
  encodePong,
  encodeResponseAudio,
  encodeResponseDelta,
  encodeResponseDone,
  encodeSpeechStarted,
  encodeSpeechStopped,
} from '@rtv/protocol';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createGatewayMetrics, errorCodeOf, serverFrameType } from '../../services/gateway/src/metrics.js';
import { createWorkerMetrics } from '../../services/session-worker/src/metrics.js';
import { parseExposition } from './helpers/prom.js';

async function labelValues(registry: Registry, name: string, label: string): Promise<string[]> {
  const samples = parseExposition(await registry.metrics()).filter((s) => s.name === name);
  return samples.map((s) => s.labels[label]!).sort();
}

describe('bounded labels', () => {
  it('counts client close codes outside the table as other', async () => {
    const registry = new Registry();
    const metrics = createGatewayMetrics(registry);
    for (let code = 1000; code < 5000; code++) metrics.closes.inc({ code: String(code) });
    metrics.closes.labels({ code: '4999' }).inc();
    const values = await labelValues(registry, 'rtv_gateway_disconnects_total', 'code');
    expect(values.length).toBeLessThan(30);
    for (const known of [
      '1000',
      '1001',
      '1006',
      '1008',
      '1009',
      '1011',
      '1012',
      '1013',
      '4001',
      '4401',
      '4429',
    ]) {
      expect(values).toContain(known);
    }
    const other = parseExposition(await registry.metrics()).find(
      (s) => s.name === 'rtv_gateway_disconnects_total' && s.labels.code === 'other',
    );
    // 4000 codes tried, fewer than 30 known: everything else (and the pre-bound child) landed on other.
    expect(other!.value).toBe(4000 - (values.length - 1) + 1);
  });

  it('counts unregistered error codes as other', async () => {
    const registry = new Registry();
    const metrics = createGatewayMetrics(registry);
    metrics.errors.inc({ code: 'rate_limited' });
    metrics.errors.inc({ code: 'made_up_by_someone' });
    expect(await labelValues(registry, 'rtv_gateway_client_errors_total', 'code')).toEqual([
      'other',
      'rate_limited',
    ]);
  });

  it("bounds the provider's error codes and event types", async () => {
    const registry = new Registry();
    const metrics = createWorkerMetrics(registry);
    for (const code of [
      'invalid_api_key',
      'connect_fatal',
      'closed_1006',
      'closed_4242',
      'totally_new_code',
      'none',
    ]) {
      metrics.upstreamErrors.inc({ code });
    }
    expect(await labelValues(registry, 'rtv_worker_upstream_errors_total', 'code')).toEqual(
      ['closed_1006', 'closed_other', 'connect_fatal', 'invalid_api_key', 'none', 'other'].sort(),
    );
    for (const type of ['response.output_audio.delta', 'response.audio.delta', 'session.created', 'x.y']) {
      metrics.upstreamEvents.labels({ type }).inc();
    }
    expect(await labelValues(registry, 'rtv_worker_upstream_events_received_total', 'type')).toEqual(
      ['other', 'response.audio.delta', 'response.output_audio.delta', 'session.created'].sort(),
    );
  });
});

describe('frame type sniffing', () => {
  it.each([
    ['response.audio', encodeResponseAudio('AAAA', 1)],
    ['response.delta', encodeResponseDelta('hi "there"', 1)],
    ['response.done', encodeResponseDone({ input_tokens: 1, output_tokens: 2 }, 1)],
    ['pong', encodePong(1)],
    ['error', encodeError('rate_limited', 'slow down')],
    ['input_audio_buffer.speech_started', encodeSpeechStarted(10, 1)],
    ['input_audio_buffer.speech_stopped', encodeSpeechStopped(20, 1)],
    ['session.notice', encodeNotice('session_resumed', 'resumed')],
  ])('reads %s from the encoded frame', (type, frame) => {
    expect(serverFrameType(frame)).toBe(type);
    expect(JSON.parse(frame).type).toBe(type);
  });

  it('never returns a type the protocol does not define', () => {
    expect(serverFrameType('{"type":"made.up"}')).toBe('other');
    expect(serverFrameType('{ "type": "pong" }')).toBe('other');
    expect(serverFrameType('not json')).toBe('other');
  });

  it('reads the code of an error frame', () => {
    expect(errorCodeOf(encodeError('upstream_unavailable', 'down'))).toBe('upstream_unavailable');
    expect(errorCodeOf(encodePong(1))).toBe('other');
  });
});
