import { spawnSync } from 'node:child_process';
import { BETA_TO_GA_EVENT, GA_TO_BETA_EVENT } from '@rtv/protocol/openai-realtime';
import { describe, expect, it } from 'vitest';
import { parseWav, resampleLinear } from '../src/audio.js';
import { replyToAudio, replyToText } from '../src/reply.js';
import { createSynthesizer, synthesizeVoiceLike } from '../src/tts.js';
import { buildUsage } from '../src/usage.js';
import { EnergyVad, rmsThreshold } from '../src/vad.js';
import { rms, silence, speechBurst } from './helpers.js';

const VAD = { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 200, idleTimeoutMs: null };

describe('EnergyVad', () => {
  it('finds onset and end in appended-audio time, however the audio is chunked', () => {
    const audio = Buffer.concat([silence(500), speechBurst(800), silence(700)]);
    for (const chunk of [4800, 997, 1]) {
      const vad = new EnergyVad(VAD);
      const events = [];
      for (let i = 0; i < audio.length; i += chunk) events.push(...vad.push(audio.subarray(i, i + chunk)));
      expect(events, `chunk ${chunk}`).toEqual([
        { type: 'speech_started', audioStartMs: 200 },
        { type: 'speech_stopped', audioEndMs: 1500 },
      ]);
    }
  });

  it('ignores quiet noise and short clicks', () => {
    const vad = new EnergyVad(VAD);
    // The same burst 40 dB down: room noise level.
    const quiet = speechBurst(1000);
    for (let i = 0; i < quiet.length; i += 2) quiet.writeInt16LE(Math.trunc(quiet.readInt16LE(i) / 100), i);
    expect(rms(quiet)).toBeLessThan(rmsThreshold(0.5));
    const click = Buffer.concat([silence(100), speechBurst(20), silence(300)]);
    expect([...vad.push(quiet), ...vad.push(click)]).toEqual([]);
  });

  it('keeps the session timeline across detectors and fires the idle timeout once when armed', () => {
    const vad = new EnergyVad({ ...VAD, idleTimeoutMs: 1000 }, 2000);
    vad.armIdle();
    expect(vad.push(silence(900))).toEqual([]);
    expect(vad.push(silence(200))).toEqual([{ type: 'timeout', audioStartMs: 2000, audioEndMs: 3000 }]);
    expect(vad.push(silence(2000))).toEqual([]);
  });
});

describe('audio helpers', () => {
  it('reads a streamed 22.05 kHz WAV whose data length was never fixed up, and resamples to 24 kHz', () => {
    const samples = 2205;
    const wav = Buffer.alloc(44 + samples * 2);
    wav.write('RIFF', 0, 'ascii');
    wav.writeUInt32LE(0xffffffff, 4);
    wav.write('WAVEfmt ', 8, 'ascii');
    wav.writeUInt32LE(16, 16);
    wav.writeUInt16LE(1, 20);
    wav.writeUInt16LE(1, 22);
    wav.writeUInt32LE(22_050, 24);
    wav.writeUInt32LE(44_100, 28);
    wav.writeUInt16LE(2, 32);
    wav.writeUInt16LE(16, 34);
    wav.write('data', 36, 'ascii');
    wav.writeUInt32LE(0x7ffff000, 40);
    for (let i = 0; i < samples; i++) wav.writeInt16LE(Math.round(Math.sin(i / 10) * 16000), 44 + i * 2);
    const decoded = parseWav(wav);
    expect(decoded).toMatchObject({ sampleRate: 22_050, channels: 1 });
    expect(decoded.samples.length).toBe(samples);
    const up = resampleLinear(decoded.samples, 22_050, 24_000);
    expect(up.length).toBe(2400);
    expect(up[0]).toBeCloseTo(0, 5);
    expect(Math.max(...up)).toBeGreaterThan(0.45);
    expect(() => parseWav(Buffer.from('not a wav file'))).toThrow(/RIFF/);
  });
});

describe('synthesis', () => {
  it('produces deterministic, voiced PCM whose length follows the text and the speed', () => {
    const short = synthesizeVoiceLike('Hello there.', 'alloy', 1);
    expect(synthesizeVoiceLike('Hello there.', 'alloy', 1).equals(short)).toBe(true);
    const long = synthesizeVoiceLike(
      'Hello there, this is a much longer sentence with many more words.',
      'alloy',
      1,
    );
    const fast = synthesizeVoiceLike(
      'Hello there, this is a much longer sentence with many more words.',
      'alloy',
      1.5,
    );
    expect(long.length).toBeGreaterThan(3 * short.length);
    expect(fast.length).toBeLessThan(long.length * 0.8);
    expect(rms(long)).toBeGreaterThan(0.05);
    expect(synthesizeVoiceLike('Hello there.', 'echo', 1).equals(short)).toBe(false);
  });

  it("uses espeak-ng when it is on PATH and refuses 'espeak' when it is not", async () => {
    const installed = spawnSync('espeak-ng', ['--version']).status === 0;
    const auto = await createSynthesizer('auto');
    expect(auto.kind).toBe(installed ? 'espeak' : 'synthetic');
    if (installed) {
      const pcm = await (await createSynthesizer('espeak')).synthesize('Testing one two three.', 'alloy', 1);
      expect(rms(pcm)).toBeGreaterThan(0.01);
    } else {
      await expect(createSynthesizer('espeak')).rejects.toThrow(/espeak-ng/);
    }
  });

  it('caches per text: a second request returns the same buffer', async () => {
    const synth = await createSynthesizer('synthetic');
    const first = await synth.synthesize('Cache me.', 'alloy', 1);
    expect(await synth.synthesize('Cache me.', 'alloy', 1)).toBe(first);
  });
});

describe('replies and usage', () => {
  it('answers deterministically from the input', () => {
    expect(replyToText('  hello   there ')).toBe('Hello! How can I help you today?');
    expect(replyToText('Is it raining?')).toBe('You asked: Is it raining?');
    expect(replyToText('I like trains')).toBe('You said: I like trains.');
    expect(replyToText('word '.repeat(100)).length).toBeLessThan(140);
    expect(replyToAudio(1234)).toBe('I heard 1.2 seconds of audio.');
  });

  it('counts cached prompt tokens in 64-token blocks, text first', () => {
    const usage = buildUsage({ text: 100, audio: 40, image: 0 }, 130, { text: 10, audio: 50 });
    expect(usage).toMatchObject({
      total_tokens: 200,
      input_tokens: 140,
      output_tokens: 60,
      input_token_details: {
        cached_tokens: 128,
        cached_tokens_details: { text_tokens: 100, audio_tokens: 28 },
      },
      output_token_details: { text_tokens: 10, audio_tokens: 50 },
    });
  });
});

describe('GA/beta name tables', () => {
  it('are inverse of each other, except the GA-only conversation.item.done', () => {
    const forward = Object.entries(GA_TO_BETA_EVENT).filter(([, beta]) => beta !== null);
    const backward = Object.entries(BETA_TO_GA_EVENT).map(([beta, ga]) => [ga, beta]);
    expect(Object.fromEntries(forward)).toEqual(Object.fromEntries(backward));
    expect(GA_TO_BETA_EVENT['conversation.item.done']).toBeNull();
  });
});
