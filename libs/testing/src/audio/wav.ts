// PCM16 RIFF/WAVE reading and writing. Real-world files carry extra chunks (LIST, fact, bext) and
// sometimes a data size that was never patched (streamed writers), so the reader walks chunks and clamps.

/** Decoded PCM16 audio; `samples` are interleaved when `channels` > 1. */
export interface PcmAudio {
  sampleRate: number;
  channels: number;
  samples: Int16Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const FORMAT_NAMES: Record<number, string> = { 3: 'IEEE float', 6: 'A-law', 7: 'µ-law', 85: 'MP3' };

/** Parses a PCM16 WAV file. Throws a message that says what the file is when it is not PCM16. */
export function readWav(data: Uint8Array): PcmAudio {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a WAV file (no RIFF/WAVE header)');
  }
  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | undefined;
  let pcm: Buffer | undefined;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new Error('invalid WAV: fmt chunk too short');
      let format = buf.readUInt16LE(body);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of its sub-format GUID.
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 40) format = buf.readUInt16LE(body + 24);
      fmt = {
        format,
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      pcm = buf.subarray(body, Math.min(body + size, buf.length));
      break;
    }
    // Chunks are word-aligned: an odd size is followed by one pad byte.
    offset = body + size + (size % 2);
  }
  if (!fmt) throw new Error('invalid WAV: no fmt chunk');
  if (fmt.format !== WAVE_FORMAT_PCM) {
    const name = FORMAT_NAMES[fmt.format] ?? `format ${fmt.format}`;
    throw new Error(
      `unsupported WAV encoding ${name}: only 16-bit PCM is supported (sox in.wav -b 16 -e signed out.wav)`,
    );
  }
  if (fmt.bits !== 16) {
    throw new Error(`unsupported WAV: ${fmt.bits}-bit samples, only 16-bit PCM is supported`);
  }
  if (fmt.channels < 1 || fmt.sampleRate < 1) throw new Error('invalid WAV: zero channels or sample rate');
  if (!pcm) throw new Error('invalid WAV: no data chunk');
  const frameBytes = 2 * fmt.channels;
  const usable = pcm.length - (pcm.length % frameBytes);
  const samples = new Int16Array(usable / 2);
  for (let i = 0; i < samples.length; i++) samples[i] = pcm.readInt16LE(i * 2);
  return { sampleRate: fmt.sampleRate, channels: fmt.channels, samples };
}

/** Encodes PCM16 samples (interleaved when `channels` > 1) as a canonical 44-byte-header WAV file. */
export function writeWav(audio: PcmAudio): Buffer {
  const { sampleRate, channels, samples } = audio;
  const dataBytes = samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * channels * 2, 28);
  out.writeUInt16LE(channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, 44 + i * 2);
  return out;
}

/** PCM16 little-endian bytes (the wire format of `input_audio_buffer` / `response.audio`) to samples. */
export function pcm16FromBytes(bytes: Uint8Array): Int16Array {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const samples = new Int16Array(Math.floor(view.length / 2));
  for (let i = 0; i < samples.length; i++) samples[i] = view.readInt16LE(i * 2);
  return samples;
}

/** Samples to PCM16 little-endian bytes, independent of the host's endianness. */
export function pcm16ToBytes(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, i * 2);
  return out;
}
