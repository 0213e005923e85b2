// The worklet module is generated from the DSP classes' source text. These tests run that exact text in a
// fresh V8 context with only the AudioWorklet globals, so a class that reached outside itself would fail
// here, and feed it known signals the way the audio thread does: 128-frame render quanta.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bytesToPcm16, pcm16ToFloat } from '../src/audio/pcm16.js';
import type { CaptureMessage, PlaybackCommand, PlaybackMessage } from '../src/audio/worklets.js';
import { CAPTURE_PROCESSOR, PLAYBACK_PROCESSOR, workletModuleSource } from '../src/audio/worklets.js';
import { concat, fitSine, sine } from './signal.js';

interface FakeProcessor {
  port: { posted: unknown[]; onmessage: ((event: { data: unknown }) => void) | null };
  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean;
}
type ProcessorClass = new (options: { processorOptions: unknown }) => FakeProcessor;

/** Evaluates the module as a worklet scope at `rate` and returns the registered processor classes. */
function loadModule(rate: number, source = workletModuleSource()): Map<string, ProcessorClass> {
  const registered = new Map<string, ProcessorClass>();
  class AudioWorkletProcessor {
    port = {
      posted: [] as unknown[],
      onmessage: null as ((event: { data: unknown }) => void) | null,
      postMessage(message: unknown) {
        this.posted.push(message);
      },
    };
  }
  vm.runInNewContext(source, {
    AudioWorkletProcessor,
    registerProcessor: (name: string, cls: ProcessorClass) => registered.set(name, cls),
    sampleRate: rate,
  });
  return registered;
}

describe('capture worklet', () => {
  it('turns a 48 kHz microphone into 24 kHz PCM16 chunks that still hold the same sine', () => {
    const Capture = loadModule(48_000).get(CAPTURE_PROCESSOR)!;
    const node = new Capture({ processorOptions: { targetRate: 24_000, chunkMs: 40 } });
    const input = sine(48_000, 440, 0.5, 1);
    for (let i = 0; i < input.length; i += 128) {
      expect(node.process([[input.subarray(i, i + 128)]], [])).toBe(true);
    }
    const chunks = node.port.posted as CaptureMessage[];
    expect(chunks.every((c) => c.type === 'chunk' && c.bytes.byteLength === 1920)).toBe(true);
    // 1 s of input is 25 chunks of 40 ms, less the filter's look-ahead still held back.
    expect(chunks).toHaveLength(24);
    const pcm = concat(chunks.map((c) => pcm16ToFloat(bytesToPcm16((c as { bytes: Uint8Array }).bytes))));
    const fit = fitSine(pcm, 24_000, 440);
    expect(Math.abs(fit.frequency - 440)).toBeLessThan(0.5);
    expect(Math.abs(fit.amplitude - 0.5)).toBeLessThan(0.005);
    expect(fit.residual).toBeLessThan(0.003);
    const level = chunks[10] as { rms: number; peak: number };
    expect(level.rms).toBeCloseTo(0.5 / Math.SQRT2, 2);
    expect(level.peak).toBeCloseTo(0.5, 2);
  });

  it('downmixes stereo, flushes the partial chunk on request and stops when told', () => {
    const Capture = loadModule(24_000).get(CAPTURE_PROCESSOR)!;
    const node = new Capture({ processorOptions: { targetRate: 24_000, chunkMs: 20 } });
    const left = new Float32Array(128).fill(0.5);
    const right = new Float32Array(128).fill(-0.25);
    for (let i = 0; i < 4; i++) node.process([[left, right]], []);
    expect(node.port.posted).toHaveLength(1);
    node.port.onmessage!({ data: 'flush' });
    const [full, partial, flushed] = node.port.posted as CaptureMessage[];
    expect(full).toMatchObject({ type: 'chunk' });
    expect((partial as { bytes: Uint8Array }).bytes.byteLength).toBe((512 - 480) * 2);
    expect(Array.from(bytesToPcm16((partial as { bytes: Uint8Array }).bytes))).toEqual(
      new Array(32).fill(4096),
    );
    expect(flushed).toEqual({ type: 'flushed' });
    node.port.onmessage!({ data: 'stop' });
    expect(node.process([[left]], [])).toBe(false);
  });
});

describe('playback worklet', () => {
  function render(node: FakeProcessor, quanta: number): Float32Array {
    const parts: Float32Array[] = [];
    for (let q = 0; q < quanta; q++) {
      const out = new Float32Array(128);
      node.process([], [[out]]);
      parts.push(out);
    }
    return concat(parts);
  }
  const send = (node: FakeProcessor, command: PlaybackCommand) => node.port.onmessage!({ data: command });

  it('plays 24 kHz reply audio at the 48 kHz device rate: same tone, same level', () => {
    const Playback = loadModule(48_000).get(PLAYBACK_PROCESSOR)!;
    const node = new Playback({
      processorOptions: { sourceRate: 24_000, startThresholdMs: 80, maxBufferedMs: 60_000 },
    });
    const reply = sine(24_000, 600, 0.6, 1);
    // Arrives in 100 ms network chunks, faster than real time.
    for (let i = 0; i < reply.length; i += 2400)
      send(node, { type: 'audio', samples: reply.slice(i, i + 2400) });
    send(node, { type: 'end' });
    const out = render(node, 400);
    const fit = fitSine(out.subarray(0, 48_000), 48_000, 600);
    expect(Math.abs(fit.frequency - 600)).toBeLessThan(0.5);
    expect(Math.abs(fit.amplitude - 0.6)).toBeLessThan(0.006);
    const reports = node.port.posted as PlaybackMessage[];
    const last = reports.at(-1)!;
    expect(last).toMatchObject({ type: 'progress', state: 'idle', underruns: 0 });
    // Every input sample came out, twice over (24 → 48 kHz), plus the flushed filter tail.
    expect(last.totalPlayed).toBeGreaterThanOrEqual(48_000);
    expect(last.totalPlayed).toBeLessThan(48_000 + 200);
  });

  it('stops within one render quantum on clear and reports what was played', () => {
    const Playback = loadModule(48_000).get(PLAYBACK_PROCESSOR)!;
    const node = new Playback({
      processorOptions: { sourceRate: 24_000, startThresholdMs: 0, maxBufferedMs: 60_000 },
    });
    send(node, { type: 'audio', samples: sine(24_000, 300, 0.5, 2) });
    render(node, 375);
    send(node, { type: 'clear', id: 7 });
    const cleared = (node.port.posted as PlaybackMessage[]).find((m) => m.type === 'cleared')!;
    expect(cleared).toMatchObject({ id: 7, played: 48_000, state: 'playing' });
    expect(render(node, 2).every((v) => v === 0)).toBe(true);
  });
});

describe('worklet module source', () => {
  it('still works when an application bundles the library for older targets and minifies it', async () => {
    // ES2019 lowers class fields and optional chaining; minification renames everything it can.
    const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/audio/worklets.ts');
    const bundled = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2019',
      minify: true,
      logLevel: 'silent',
    });
    const code = bundled.outputFiles[0]!.text;
    const module = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as {
      workletModuleSource(): string;
    };
    const Capture = loadModule(44_100, module.workletModuleSource()).get(CAPTURE_PROCESSOR)!;
    const node = new Capture({ processorOptions: { targetRate: 24_000, chunkMs: 20 } });
    const input = sine(44_100, 1000, 0.3, 0.5);
    for (let i = 0; i < input.length; i += 128) node.process([[input.subarray(i, i + 128)]], []);
    const pcm = concat(
      (node.port.posted as Array<{ bytes: Uint8Array }>).map((c) => pcm16ToFloat(bytesToPcm16(c.bytes))),
    );
    const fit = fitSine(pcm, 24_000, 1000);
    expect(Math.abs(fit.frequency - 1000)).toBeLessThan(1);
    expect(Math.abs(fit.amplitude - 0.3)).toBeLessThan(0.003);
  });
});
