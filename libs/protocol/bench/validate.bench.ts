/**
 * How fast parseClientFrame is on the frames a gateway sees: 20 ms audio chunks (the hot path), text
 * turns, control messages, and bad frames. A report, not a test: it prints frames/s and µs/frame.
 *
 *   node --conditions=source --import tsx libs/protocol/bench/validate.bench.ts [--ms=400] [--rounds=5]
 *
 * Each case runs for --ms milliseconds per round after a warm-up; the median round is reported. The
 * base64 section compares the candidate validators on the same 20 ms chunk; the fast-path section puts
 * scanAudioFrame (byte scan, no string) next to parseClientFrame on the same audio frames.
 */
import { BASE64_CANDIDATES } from '../src/base64.js';
import { parseClientFrame, scanAudioFrame } from '../src/index.js';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, Number(value)] as const;
  }),
);
const ROUND_MS = args.get('ms') ?? 400;
const ROUNDS = args.get('rounds') ?? 5;

/** `bytes` of PCM16 (a 440 Hz tone at 24 kHz) as standard base64. */
function pcm16Base64(bytes: number): string {
  const pcm = Buffer.alloc(bytes);
  for (let i = 0; i + 1 < bytes; i += 2) {
    pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * (i / 2)) / 24_000)), i);
  }
  return pcm.toString('base64');
}

const audioJson = (audio: string) =>
  JSON.stringify({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_audio_buffer', audio },
  });

const AUDIO_20MS = pcm16Base64(960);
const AUDIO_FRAME = audioJson(AUDIO_20MS);
const AUDIO_FRAME_BYTES = new TextEncoder().encode(AUDIO_FRAME);
const AUDIO_100MS_FRAME = audioJson(pcm16Base64(4800));
const AUDIO_100MS_FRAME_BYTES = new TextEncoder().encode(AUDIO_100MS_FRAME);
const TEXT_FRAME = JSON.stringify({
  type: 'conversation.item.input',
  conversation_item_input: { type: 'input_text', text: 'What is the weather like in Lisbon this weekend?' },
});
const SESSION_FRAME = JSON.stringify({
  type: 'session.update',
  session_update: { voice: 'marin', language: 'en-US', temperature: 0.8, max_response_output_tokens: 'inf' },
});
const PING_FRAME = JSON.stringify({ type: 'ping', ping: { timestamp: 1_700_000_000.123 } });

interface Case {
  readonly name: string;
  readonly raw: string | Uint8Array;
  readonly expectOk: boolean;
}

const CASES: Case[] = [
  { name: 'audio 20 ms (string, 1,280 b64 chars)', raw: AUDIO_FRAME, expectOk: true },
  { name: 'audio 20 ms (Uint8Array, as from uWS)', raw: AUDIO_FRAME_BYTES, expectOk: true },
  { name: 'audio 100 ms (string, 6,400 b64 chars)', raw: AUDIO_100MS_FRAME, expectOk: true },
  { name: 'text turn', raw: TEXT_FRAME, expectOk: true },
  { name: 'session.update', raw: SESSION_FRAME, expectOk: true },
  { name: 'ping', raw: PING_FRAME, expectOk: true },
  { name: 'bad: not JSON', raw: `${AUDIO_FRAME.slice(0, -2)}`, expectOk: false },
  { name: 'bad: unknown type', raw: '{"type":"session.delete"}', expectOk: false },
  { name: 'bad: temperature out of range', raw: SESSION_FRAME.replace('0.8', '2'), expectOk: false },
  {
    name: 'bad: field at the wrong level',
    raw: '{"type":"session.update","voice":"alloy"}',
    expectOk: false,
  },
  { name: 'bad: base64url audio', raw: audioJson(`${AUDIO_20MS.slice(0, -4)}ab-_`), expectOk: false },
  { name: 'bad: odd PCM16 byte count', raw: audioJson(pcm16Base64(961)), expectOk: false },
  { name: 'bad: 1.1 MB frame (size check only)', raw: 'x'.repeat(1_100_000), expectOk: false },
];

/** Runs `fn` for ROUND_MS per round; returns the median nanoseconds per call. */
function measure(fn: () => unknown): number {
  const perCall: number[] = [];
  for (let round = -1; round < ROUNDS; round++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(ROUND_MS) * 1_000_000n;
    let now = start;
    // Check the clock every 256 calls so reading it does not dominate fast cases.
    while (now < deadline) {
      for (let i = 0; i < 256; i++) fn();
      calls += 256;
      now = process.hrtime.bigint();
    }
    if (round >= 0) perCall.push(Number(now - start) / calls); // round -1 is the warm-up
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)]!;
}

function row(name: string, ns: number): string {
  const perSecond = Math.round(1e9 / ns).toLocaleString('en-US');
  return `${name.padEnd(42)} ${perSecond.padStart(12)} /s ${(ns / 1000).toFixed(2).padStart(9)} µs`;
}

console.log(`parseClientFrame — node ${process.version}, ${ROUNDS} rounds × ${ROUND_MS} ms, median\n`);
console.log(`${'case'.padEnd(42)} ${'frames'.padStart(15)} ${'per frame'.padStart(12)}`);
for (const c of CASES) {
  const result = parseClientFrame(c.raw);
  if (result.ok !== c.expectOk) throw new Error(`${c.name}: expected ok=${c.expectOk}`);
  let sink = 0;
  const ns = measure(() => {
    if (parseClientFrame(c.raw).ok) sink++;
  });
  console.log(row(c.name, ns));
  if (sink < 0) console.log(sink); // keeps the result observable
}

console.log(`\nbase64 validation of one 20 ms chunk (${AUDIO_20MS.length} chars)\n`);
for (const [name, check] of Object.entries(BASE64_CANDIDATES)) {
  if (!check(AUDIO_20MS)) throw new Error(`${name} rejected valid base64`);
  let sink = 0;
  const ns = measure(() => {
    if (check(AUDIO_20MS)) sink++;
  });
  console.log(row(name, ns));
  if (sink < 0) console.log(sink);
}

console.log('\naudio fast path: scanAudioFrame vs parseClientFrame on the same bytes\n');
const MAX_AUDIO_BYTES = 786_432;
for (const [label, bytes] of [
  ['20 ms', AUDIO_FRAME_BYTES],
  ['100 ms', AUDIO_100MS_FRAME_BYTES],
] as const) {
  if (scanAudioFrame(bytes, MAX_AUDIO_BYTES) === undefined)
    throw new Error(`scanAudioFrame rejected ${label}`);
  let sink = 0;
  const scanNs = measure(() => {
    if (scanAudioFrame(bytes, MAX_AUDIO_BYTES) !== undefined) sink++;
  });
  const parseNs = measure(() => {
    if (parseClientFrame(bytes).ok) sink++;
  });
  console.log(row(`scanAudioFrame, audio ${label} (Uint8Array)`, scanNs));
  console.log(row(`parseClientFrame, audio ${label} (Uint8Array)`, parseNs));
  console.log(`${'  speed-up'.padEnd(42)} ${(parseNs / scanNs).toFixed(1).padStart(14)}×`);
  if (sink < 0) console.log(sink);
}

console.log('\nparts of the audio hot path, for comparison\n');
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
console.log(
  row(
    'TextDecoder (fatal) of the 20 ms frame',
    measure(() => decoder.decode(AUDIO_FRAME_BYTES)),
  ),
);
console.log(
  row(
    'JSON.parse of the 20 ms frame',
    measure(() => JSON.parse(AUDIO_FRAME)),
  ),
);
