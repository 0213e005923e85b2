import {
  type BusLine,
  decodeBatch,
  decodeLine,
  encodeAckLine,
  encodeAudioMessageLine,
  encodeBatch,
  encodeBindLine,
  encodeClientFrameLine,
  encodeCloseLine,
  encodeDetachLine,
  encodeEndLine,
  encodeMessageLine,
  encodeResendLine,
  encodeResponseAudioBytes,
  encodeResumeLine,
  FrameKind,
} from '@rtv/protocol';
import { describe, expect, it } from 'vitest';

/** Decodes a batch; byte payloads come back as text so lines compare with plain objects. */
function decodeAll(batch: Uint8Array) {
  const lines: Array<Record<string, unknown>> = [];
  const bad: string[] = [];
  decodeBatch(
    batch,
    (l: BusLine) => lines.push('payload' in l ? { ...l, payload: l.payload.toString() } : { ...l }),
    (_raw, why) => bad.push(why),
  );
  return { lines, bad };
}

describe('bus envelope v1', () => {
  it('round-trips every line kind in one batch, in order', () => {
    const payload = JSON.stringify({ type: 'response.delta', response: { delta: { content: 'a\tb\nc' } } });
    const batch = encodeBatch([
      encodeClientFrameLine('sess_1', 1, FrameKind.Audio, 'AAAA'),
      encodeClientFrameLine('sess_1', 2, FrameKind.Json, '{"type":"ping"}'),
      encodeEndLine('sess_1', 'client closed!'),
      encodeMessageLine('sess_2', 3, 17, payload),
      encodeBindLine('sess_2', 'wk-1', 3),
      encodeAckLine('sess_2', 3, 99),
      encodeCloseLine('sess_2', 3, 1011, 'upstream\tunavailable'),
      encodeDetachLine('sess_3', 'gw-1'),
      encodeResumeLine('sess_3', 'gw-2', 8589934597),
      encodeResendLine('sess_3', 'gw-2', 4294967301),
    ]);
    const { lines, bad } = decodeAll(batch);
    expect(bad).toEqual([]);
    expect(lines).toEqual([
      { op: 'F', sid: 'sess_1', seq: 1, kind: 'a', payload: 'AAAA' },
      { op: 'F', sid: 'sess_1', seq: 2, kind: 'j', payload: '{"type":"ping"}' },
      { op: 'E', sid: 'sess_1', reason: 'client_closed_' },
      { op: 'M', sid: 'sess_2', epoch: 3, seq: 17, payload },
      { op: 'B', sid: 'sess_2', wid: 'wk-1', epoch: 3 },
      { op: 'A', sid: 'sess_2', epoch: 3, seq: 99 },
      { op: 'X', sid: 'sess_2', epoch: 3, code: 1011, reason: 'upstream unavailable' },
      { op: 'D', sid: 'sess_3', gid: 'gw-1' },
      { op: 'R', sid: 'sess_3', gid: 'gw-2', lastSeq: 8589934597 },
      { op: 'S', sid: 'sess_3', gid: 'gw-2', afterSeq: 4294967301 },
    ]);
    // JSON.stringify escapes control characters, so a payload never splits a batch.
    expect(payload.includes('\n')).toBe(false);
  });

  it('reports malformed lines and keeps decoding the rest', () => {
    const batch = Buffer.from(
      [
        'F\tsess_1\tx\ta\tAAAA',
        'Q\tnope',
        'M\tsess_1\t1',
        '',
        encodeAckLine('s', 1, 2).toString(),
        'Mno-tab',
      ].join('\n'),
    );
    const { lines, bad } = decodeAll(batch);
    expect(lines).toEqual([{ op: 'A', sid: 's', epoch: 1, seq: 2 }]);
    expect(bad).toEqual(['F: bad seq', 'unknown op "Q"', 'M: too few fields', 'missing op']);
  });

  it('rejects bad numbers and kinds', () => {
    expect(decodeLine('F\ts\t-1\ta\tx')).toBe('F: bad seq');
    expect(decodeLine('F\ts\t1\tz\tx')).toBe('F: bad kind');
    expect(decodeLine('F\ts\t1.5\ta\tx')).toBe('F: bad seq');
    expect(decodeLine('S\ts\tgw-1\t-3')).toBe('S: bad seq');
    expect(decodeLine('B\ts\tw\t9999999999999999')).toBe('B: bad epoch');
    expect(decodeLine('X\ts\t1\tcode\tr')).toBe('X: bad number');
    expect(decodeLine('A\ts\t1\t+2')).toBe('A: bad number');
    expect(decodeLine('A\ts\t1\t 2')).toBe('A: bad number');
  });

  it('carries payload bytes untouched: base64 audio, UTF-8 text, a frame given as a byte view', () => {
    const audio = Buffer.alloc(960, 9).toString('base64');
    const text = JSON.stringify({ type: 'response.delta', response: { delta: { content: 'olá — 你好 🎙' } } });
    const frame = Buffer.from(`xx${audio}yy`);
    const view = new Uint8Array(frame.buffer, frame.byteOffset + 2, audio.length);
    const { lines, bad } = decodeAll(
      encodeBatch([
        encodeClientFrameLine('s', 1, FrameKind.Audio, audio),
        encodeMessageLine('s', 1, 2, text),
        encodeMessageLine('s', 1, 3, Buffer.from(text)),
        encodeClientFrameLine('s', 4, FrameKind.Audio, view),
      ]),
    );
    expect(bad).toEqual([]);
    expect(lines.map((l) => l.payload)).toEqual([audio, text, text, audio]);
    // A single line is its own batch: no copy.
    const one = encodeAckLine('s', 1, 1);
    expect(encodeBatch([one])).toBe(one);
  });

  it('builds a reply audio line in one buffer, byte for byte the message line around the audio frame', () => {
    const audio = Buffer.from(Buffer.alloc(960, 7).toString('base64'));
    const view = audio.subarray(4, audio.length - 4);
    const { line, payload } = encodeAudioMessageLine('sess_a', 3, 42, view, 1_796_000_000.125);
    const frame = encodeResponseAudioBytes(view, 1_796_000_000.125);
    expect(line.equals(encodeMessageLine('sess_a', 3, 42, frame))).toBe(true);
    expect(payload.equals(frame)).toBe(true);
    expect(payload.buffer).toBe(line.buffer); // a view into the line, not a copy
    expect(decodeAll(line).lines).toEqual([
      { op: 'M', sid: 'sess_a', epoch: 3, seq: 42, payload: frame.toString() },
    ]);
  });

  it('reads a batch given as a plain Uint8Array view and skips empty lines', () => {
    const bytes = Buffer.from(`\n${encodeAckLine('s', 1, 5).toString()}\n\n`);
    const { lines, bad } = decodeAll(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    expect(bad).toEqual([]);
    expect(lines).toEqual([{ op: 'A', sid: 's', epoch: 1, seq: 5 }]);
  });
});
