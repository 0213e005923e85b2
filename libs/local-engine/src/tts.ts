import { spawn } from 'node:child_process';
import { floatToPcm16, parseWav, resampleLinear, SAMPLE_RATE } from './audio.js';

/** Which voice source to use: espeak-ng speaks real words; the synthetic voice only sounds speech-like. */
export type TtsMode = 'auto' | 'espeak' | 'synthetic';

/** Turns reply text into PCM16 mono 24 kHz. Results are cached per (voice, speed, text). */
export interface Synthesizer {
  readonly kind: 'espeak' | 'synthetic';
  synthesize(text: string, voice: string, speed: number): Promise<Buffer>;
}

const ESPEAK = 'espeak-ng';
/** espeak-ng's default rate; `speed` scales it. */
const ESPEAK_WPM = 175;
const ESPEAK_TIMEOUT_MS = 10_000;
/** Longer stdout means something is wrong (a reply is at most a few seconds of speech). */
const ESPEAK_MAX_BYTES = 32 * 1024 * 1024;
const CACHE_MAX_BYTES = 64 * 1024 * 1024;
const CACHE_MAX_ENTRIES = 512;

const MALE_VOICES = new Set(['ash', 'ballad', 'echo', 'verse', 'cedar']);

/** Resolves `mode` ('auto' probes for espeak-ng on PATH). Rejects when 'espeak' is asked for but missing. */
export async function createSynthesizer(mode: TtsMode = 'auto'): Promise<Synthesizer> {
  if (mode === 'synthetic') return new CachedSynthesizer('synthetic', synthesizeVoiceLike);
  const available = await espeakAvailable();
  if (available) return new CachedSynthesizer('espeak', espeakWithFallback);
  if (mode === 'espeak') throw new Error(`tts 'espeak' requested but ${ESPEAK} is not on PATH`);
  return new CachedSynthesizer('synthetic', synthesizeVoiceLike);
}

class CachedSynthesizer implements Synthesizer {
  // Map iteration order is insertion order, which makes it a small LRU: hits are re-inserted at the end.
  private readonly cache = new Map<string, Promise<Buffer>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  constructor(
    readonly kind: 'espeak' | 'synthetic',
    private readonly render: (text: string, voice: string, speed: number) => Promise<Buffer> | Buffer,
  ) {}

  synthesize(text: string, voice: string, speed: number): Promise<Buffer> {
    const key = `${voice}\u0000${speed}\u0000${text}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const pending = Promise.resolve()
      .then(() => this.render(text, voice, speed))
      .then((pcm) => {
        if (this.cache.get(key) === pending) {
          this.sizes.set(key, pcm.length);
          this.bytes += pcm.length;
          this.evict();
        }
        return pcm;
      });
    // A failed render must not poison the cache; concurrent callers still share the one attempt.
    pending.catch(() => this.cache.delete(key));
    this.cache.set(key, pending);
    return pending;
  }

  private evict(): void {
    for (const key of this.cache.keys()) {
      if (this.bytes <= CACHE_MAX_BYTES && this.cache.size <= CACHE_MAX_ENTRIES) return;
      this.cache.delete(key);
      this.bytes -= this.sizes.get(key) ?? 0;
      this.sizes.delete(key);
    }
  }
}

function espeakAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(ESPEAK, ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

async function espeakWithFallback(text: string, voice: string, speed: number): Promise<Buffer> {
  try {
    return await espeak(text, voice, speed);
  } catch {
    // A crashed or hung espeak-ng must not fail the response: the turn still gets audio.
    return synthesizeVoiceLike(text, voice, speed);
  }
}

/** `espeak-ng --stdout` writes a 22 050 Hz WAV; the text goes through stdin so it is never parsed as flags. */
function espeak(text: string, voice: string, speed: number): Promise<Buffer> {
  const args = [
    '--stdout',
    '--stdin',
    '-v',
    MALE_VOICES.has(voice) ? 'en-us+m3' : 'en-us+f3',
    '-s',
    String(Math.round(ESPEAK_WPM * speed)),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(ESPEAK, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), ESPEAK_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > ESPEAK_MAX_BYTES) child.kill('SIGKILL');
      else chunks.push(chunk);
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${ESPEAK} exited with ${code}`));
      try {
        const wav = parseWav(Buffer.concat(chunks));
        resolve(floatToPcm16(resampleLinear(wav.samples, wav.sampleRate, SAMPLE_RATE)));
      } catch (err) {
        reject(err);
      }
    });
    child.stdin.on('error', () => {}); // EPIPE when espeak dies early; 'close' reports it.
    child.stdin.end(text);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic voice: a glottal pulse train through vowel formant resonators, one envelope per syllable.
// Deterministic (same text → same samples), cheap (three 2-pole filters per sample), and voice-like enough
// for energy VADs, level meters and listening tests to behave as they would with speech.
// ---------------------------------------------------------------------------------------------------------

/** Formant frequencies (Hz) of a few English vowels; syllables pick one from their vowel letter. */
const FORMANTS: Record<string, [number, number, number]> = {
  a: [730, 1090, 2440],
  e: [530, 1840, 2480],
  i: [270, 2290, 3010],
  o: [570, 840, 2410],
  u: [300, 870, 2240],
  y: [400, 1900, 2600],
};
const BANDWIDTHS: [number, number, number] = [80, 100, 140];
const SYLLABLE_S = 0.19;
const WORD_GAP_S = 0.05;
const COMMA_GAP_S = 0.18;
const SENTENCE_GAP_S = 0.32;
const EDGE_S = 0.06;

interface Segment {
  /** Vowel for the formants, or null for a pause. */
  vowel: string | null;
  seconds: number;
}

/** Splits text into syllable and pause segments (vowel groups approximate syllables). */
function segments(text: string, speed: number): Segment[] {
  const out: Segment[] = [{ vowel: null, seconds: EDGE_S }];
  for (const token of text.match(/[\p{L}\p{N}']+|[.!?]+|[,;:]/gu) ?? []) {
    if (/^[.!?]+$/.test(token)) out.push({ vowel: null, seconds: SENTENCE_GAP_S / speed });
    else if (/^[,;:]$/.test(token)) out.push({ vowel: null, seconds: COMMA_GAP_S / speed });
    else {
      const groups = token.toLowerCase().match(/[aeiouy]+/g) ?? [token.length > 2 ? 'e' : 'a'];
      for (const group of groups) out.push({ vowel: group[0]!, seconds: SYLLABLE_S / speed });
      out.push({ vowel: null, seconds: WORD_GAP_S / speed });
    }
  }
  out.push({ vowel: null, seconds: EDGE_S });
  return out;
}

/** Renders `text` with the synthetic voice. Exposed for tests; the engine goes through {@link Synthesizer}. */
export function synthesizeVoiceLike(text: string, voice: string, speed: number): Buffer {
  const segs = segments(text, speed);
  const total = segs.reduce((n, s) => n + Math.round(s.seconds * SAMPLE_RATE), 0);
  const out = new Float32Array(total);
  const baseF0 = MALE_VOICES.has(voice) ? 118 : 205;
  const state = [0, 0, 0, 0, 0, 0];
  let phase = 0;
  let pos = 0;
  let noise = 0x2545f491;
  let syllable = 0;
  for (const seg of segs) {
    const n = Math.round(seg.seconds * SAMPLE_RATE);
    if (!seg.vowel) {
      pos += n;
      continue;
    }
    const coeffs = (FORMANTS[seg.vowel] ?? FORMANTS.a!).map((f, k) => resonator(f, BANDWIDTHS[k]!));
    // Declining pitch over the utterance plus a small rise-fall per syllable, as in read speech.
    const decline = 1.1 - 0.2 * (pos / total);
    const accent = 1 + 0.06 * Math.sin(syllable * 2.1);
    syllable++;
    const attack = Math.min(n / 4, 0.025 * SAMPLE_RATE);
    const release = Math.min(n / 3, 0.045 * SAMPLE_RATE);
    for (let i = 0; i < n; i++) {
      const t = i / n;
      const f0 = baseF0 * decline * accent * (1 + 0.05 * Math.sin(Math.PI * t));
      phase += f0 / SAMPLE_RATE;
      if (phase >= 1) phase -= 1;
      let x = glottalPulse(phase);
      // A short noise burst at the onset stands in for the consonant.
      if (i < 0.03 * SAMPLE_RATE) {
        noise = (noise * 1664525 + 1013904223) >>> 0;
        x += ((noise / 0xffffffff) * 2 - 1) * 0.35;
      }
      for (let k = 0; k < 3; k++) {
        const [a, b, c] = coeffs[k]!;
        const y = a * x + b * state[2 * k]! + c * state[2 * k + 1]!;
        state[2 * k + 1] = state[2 * k]!;
        state[2 * k] = y;
        x = y;
      }
      const env =
        i < attack
          ? 0.5 - 0.5 * Math.cos((Math.PI * i) / attack)
          : i > n - release
            ? 0.5 - 0.5 * Math.cos((Math.PI * (n - i)) / release)
            : 1;
      out[pos + i] = x * env;
    }
    pos += n;
  }
  normalise(out, 0.45);
  return floatToPcm16(out);
}

/** Rosenberg glottal pulse: opening and closing phases, then closed. */
function glottalPulse(phase: number): number {
  if (phase < 0.4) return 0.5 * (1 - Math.cos((Math.PI * phase) / 0.4));
  if (phase < 0.56) return Math.cos((Math.PI * (phase - 0.4)) / 0.32);
  return 0;
}

/** Two-pole resonator coefficients (Klatt): y = a·x + b·y₁ + c·y₂. */
function resonator(freq: number, bandwidth: number): [number, number, number] {
  const c = -Math.exp((-2 * Math.PI * bandwidth) / SAMPLE_RATE);
  const b = 2 * Math.exp((-Math.PI * bandwidth) / SAMPLE_RATE) * Math.cos((2 * Math.PI * freq) / SAMPLE_RATE);
  return [1 - b - c, b, c];
}

function normalise(samples: Float32Array, peak: number): void {
  let max = 0;
  for (const s of samples) max = Math.max(max, Math.abs(s));
  if (max === 0) return;
  const gain = peak / max;
  for (let i = 0; i < samples.length; i++) samples[i] = samples[i]! * gain;
}
