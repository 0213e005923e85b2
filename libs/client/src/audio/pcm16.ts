// PCM16 (16-bit signed little-endian) conversions. The protocol carries 24 kHz mono PCM16 both ways; Web
// Audio works in float32 in [-1, 1].

/** The protocol's audio sample rate in both directions. */
export const PROTOCOL_SAMPLE_RATE = 24_000;

/**
 * Float samples to PCM16, clamped (a clipped peak must not wrap around to the opposite sign). The scale is
 * asymmetric, like the integer range, so -1 and 1 map to -32768 and 32767 and back exactly.
 *
 * Self-contained: the capture worklet is generated from this function's source text (see `worklets.ts`).
 */
export function floatToPcm16(
  input: Float32Array,
  out: Int16Array = new Int16Array(input.length),
): Int16Array {
  for (let i = 0; i < input.length; i++) {
    const s = input[i]!;
    const c = Math.min(1, Math.max(-1, s));
    out[i] = Math.round(c < 0 ? c * 32768 : c * 32767);
  }
  return out;
}

/** PCM16 samples to float in [-1, 1], the inverse of {@link floatToPcm16}. */
export function pcm16ToFloat(
  input: Int16Array,
  out: Float32Array = new Float32Array(input.length),
): Float32Array {
  for (let i = 0; i < input.length; i++) {
    const v = input[i]!;
    out[i] = v < 0 ? v / 32768 : v / 32767;
  }
  return out;
}

/** Samples as PCM16 little-endian bytes, whatever the platform's byte order. */
export function pcm16ToBytes(samples: Int16Array): Uint8Array {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i]!, true);
  return bytes;
}

/** PCM16 little-endian bytes as samples; a trailing odd byte is ignored. */
export function bytesToPcm16(bytes: Uint8Array): Int16Array {
  const samples = new Int16Array(bytes.length >> 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
  return samples;
}

/** Standard padded base64 (the protocol's audio encoding) without Node's Buffer, so it runs in browsers. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  // Chunked: String.fromCharCode with a whole second of audio as arguments would overflow the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Decodes standard base64; throws a `DOMException` (`InvalidCharacterError`) on malformed input. */
export function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Duration of `bytes` of PCM16 mono at `sampleRate`, in milliseconds. */
export function pcm16DurationMs(bytes: number, sampleRate = PROTOCOL_SAMPLE_RATE): number {
  return ((bytes >> 1) * 1000) / sampleRate;
}
