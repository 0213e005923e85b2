import { type BusLine, DEFAULT_SESSION_CONFIG, FrameKind } from '@rtv/protocol';
import { waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionRunner } from '../src/sessions/session-runner.js';
import { TurnHold } from '../src/sessions/turn-hold.js';
import { FakeProvider } from './helpers/fake-provider.js';
import { gw1, runnerHarness } from './helpers/runner-harness.js';

/** A provider event's head as the runner sees it (the type leads). */
const ev = (type: string) => JSON.stringify({ type, event_id: 'event_1' });
const FRAME = 1280; // 20 ms of 24 kHz PCM16 as base64

describe('TurnHold', () => {
  it("holds acknowledgements just before the turn's first audio frame, across other frames", () => {
    const hold = new TurnHold({ maxBytes: 1_000_000 });
    expect(hold.ackable(4)).toBe(4);
    hold.audio(5, FRAME, false);
    hold.audio(6, FRAME, false);
    // seq 7 was a session.update, 8 more audio
    hold.audio(8, FRAME, false);
    expect(hold.firstSeq).toBe(5);
    expect(hold.bytes).toBe(3 * FRAME);
    expect(hold.ackable(8)).toBe(4);
    // A text turn held further back wins (the runner passes the smaller bound in).
    expect(hold.ackable(2)).toBe(2);
  });

  it.each([
    ['provider', 'input_audio_buffer.committed'],
    ['provider', 'input_audio_buffer.cleared'],
    ['provider', 'input_audio_buffer.speech_stopped'],
    ['provider', 'response.created'],
    ['client', 'input_audio_buffer.commit'],
    ['client', 'input_audio_buffer.clear'],
  ])('a %s %s ends the turn: acks move on, the next audio starts a new turn', (side, type) => {
    const hold = new TurnHold({ maxBytes: 1_000_000 });
    hold.audio(1, FRAME, false);
    hold.audio(2, FRAME, false);
    const ended = side === 'client' ? hold.clientSent(type) : hold.heard(ev(type));
    expect(ended).toBe(true);
    expect(hold.firstSeq).toBeUndefined();
    expect(hold.ackable(3)).toBe(3);
    hold.audio(4, FRAME, false);
    expect(hold.ackable(4)).toBe(3);
    expect(side === 'client' ? hold.clientSent(type) : hold.heard(ev(type))).toBe(true);
    // Nothing held: an end is no news (the runner sends no extra ack).
    expect(side === 'client' ? hold.clientSent(type) : hold.heard(ev(type))).toBe(false);
  });

  it('other events do not end the turn', () => {
    const hold = new TurnHold({ maxBytes: 1_000_000 });
    hold.audio(1, FRAME, false);
    for (const type of [
      'input_audio_buffer.speech_started',
      'input_audio_buffer.timeout_triggered',
      'response.output_audio.delta',
      'response.done',
      'conversation.item.input_audio_transcription.completed',
      'session.updated',
    ]) {
      expect(hold.heard(ev(type))).toBe(false);
    }
    for (const type of ['session.update', 'response.create', 'response.cancel', 'conversation.item.input']) {
      expect(hold.clientSent(type)).toBe(false);
    }
    expect(hold.ackable(9)).toBe(0);
  });

  it('slides past the byte bound: the oldest audio of a very long turn is let go', () => {
    const hold = new TurnHold({ maxBytes: 3 * FRAME });
    for (let seq = 1; seq <= 3; seq++) hold.audio(seq, FRAME, false);
    expect(hold.ackable(3)).toBe(0);
    hold.audio(4, FRAME, false);
    expect(hold.firstSeq).toBe(2);
    expect(hold.ackable(4)).toBe(1);
    for (let seq = 5; seq <= 3000; seq++) hold.audio(seq, FRAME, false);
    expect(hold.firstSeq).toBe(2998);
    expect(hold.bytes).toBe(3 * FRAME);
    expect(hold.ackable(3000)).toBe(2997);
  });

  it('holds nothing when the bound is 0 or a single frame exceeds it', () => {
    const off = new TurnHold({ maxBytes: 0 });
    off.audio(1, FRAME, false);
    expect(off.ackable(1)).toBe(1);
    const small = new TurnHold({ maxBytes: FRAME });
    small.audio(1, FRAME, false);
    small.audio(2, FRAME + 1, false);
    expect(small.firstSeq).toBeUndefined();
    expect(small.ackable(2)).toBe(2);
  });

  it('with turn detection, audio a live provider heard without speech is let go after the idle window', () => {
    const hold = new TurnHold({ maxBytes: 1_000_000, idleWindowMs: 1000 });
    hold.providerReady(0);
    for (let seq = 1; seq <= 100; seq++) hold.audio(seq, FRAME, true, seq * 20);
    // At 2000 ms, frames sent more than 1 s ago (seq ≤ 49) were silence for the provider.
    expect(hold.firstSeq).toBe(50);
    expect(hold.ackable(100)).toBe(49);
    // Speech: the turn's start is fixed from here on, however long it lasts.
    hold.heard(ev('input_audio_buffer.speech_started'));
    for (let seq = 101; seq <= 400; seq++) hold.audio(seq, FRAME, true, seq * 20);
    expect(hold.firstSeq).toBe(50);
    hold.heard(ev('input_audio_buffer.speech_stopped'));
    hold.audio(401, FRAME, true, 8020);
    hold.audio(402, FRAME, true, 9100);
    expect(hold.firstSeq).toBe(402);
  });

  it('audio queued while the provider (re)connects is not let go before a provider got it', () => {
    const hold = new TurnHold({ maxBytes: 1_000_000, idleWindowMs: 1000 });
    for (let seq = 1; seq <= 200; seq++) hold.audio(seq, FRAME, true, seq * 20);
    expect(hold.firstSeq).toBe(1);
    // The queue is flushed at 4000 ms: the window counts from there.
    hold.providerReady(4000);
    hold.audio(201, FRAME, true, 4020);
    expect(hold.firstSeq).toBe(1);
    hold.audio(202, FRAME, true, 5021);
    expect(hold.firstSeq).toBe(202);
    // Lost again: nothing slides until a new provider session has it.
    hold.providerLost();
    hold.audio(203, FRAME, true, 9000);
    hold.audio(204, FRAME, true, 12_000);
    expect(hold.firstSeq).toBe(202);
  });

  it('without turn detection the whole turn is held until the client commits', () => {
    const hold = new TurnHold({ maxBytes: 1_000_000, idleWindowMs: 1000 });
    hold.providerReady(0);
    for (let seq = 1; seq <= 500; seq++) hold.audio(seq, FRAME, false, seq * 20);
    expect(hold.firstSeq).toBe(1);
  });
});

describe('SessionRunner with a TurnHold', () => {
  const runners: SessionRunner[] = [];
  const providers: FakeProvider[] = [];
  afterEach(async () => {
    for (const r of runners.splice(0)) r.end('client_closed');
    for (const p of providers.splice(0)) await p.stop();
  });

  async function started(turnDetection: 'vad' | 'manual') {
    const provider = await FakeProvider.start();
    providers.push(provider);
    const config = {
      ...DEFAULT_SESSION_CONFIG,
      ...(turnDetection === 'manual' ? { turn_detection: null } : {}),
    };
    const h = runnerHarness(provider.url, { state: { config } });
    runners.push(h.runner);
    await h.runner.start();
    await provider.waitForEvents(1, 1);
    return { h, provider };
  }

  const acks = (lines: BusLine[]) => lines.filter((l) => l.op === 'A').map((l) => l.op === 'A' && l.seq);

  it("stops ackableSeq before the turn's audio and acks at once when the client commits", async () => {
    const { h, provider } = await started('manual');
    h.send({ type: 'session.update', session_update: {} });
    for (let seq = 2; seq <= 4; seq++) h.runner.apply(seq, FrameKind.Audio, Buffer.from('AAAA'));
    expect(h.runner.appliedSeq).toBe(4);
    expect(h.runner.ackableSeq).toBe(1);
    expect(acks(h.writer.lines(gw1))).toEqual([]);
    h.runner.apply(5, FrameKind.Json, Buffer.from('{"type":"input_audio_buffer.commit"}'));
    expect(h.runner.ackableSeq).toBe(5);
    expect(acks(h.writer.lines(gw1))).toEqual([5]);
    await waitFor(() => provider.eventsOn(1, 'input_audio_buffer.commit').length === 1, {
      message: 'the commit reached the provider',
    });
  });

  it("acks when the provider ends the turn, before the client hears of the turn's end", async () => {
    const { h, provider } = await started('vad');
    for (let seq = 1; seq <= 3; seq++) h.runner.apply(seq, FrameKind.Audio, Buffer.from('AAAA'));
    provider.send(1, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'i1' });
    await h.waitForMessage((m) => m.type === 'input_audio_buffer.speech_started');
    expect(h.runner.ackableSeq).toBe(0);
    provider.send(1, { type: 'input_audio_buffer.speech_stopped', audio_end_ms: 60, item_id: 'i1' });
    await h.waitForMessage((m) => m.type === 'input_audio_buffer.speech_stopped');
    expect(h.runner.ackableSeq).toBe(3);
    const ops = h.writer
      .lines(gw1)
      .map((l) =>
        l.op === 'A' ? `A${l.seq}` : l.op === 'M' ? String(JSON.parse(l.payload.toString()).type) : l.op,
      );
    expect(ops.indexOf('A3')).toBeGreaterThan(-1);
    expect(ops.indexOf('A3')).toBeLessThan(ops.indexOf('input_audio_buffer.speech_stopped'));
    expect(provider.eventsOn(1, 'input_audio_buffer.append')).toHaveLength(3);
  });
});
