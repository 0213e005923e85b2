import { encodeAckLine, encodeClientFrameLine, FrameKind } from '@rtv/protocol';
import { describe, expect, it } from 'vitest';
import { MemoryBusWriter } from '../src/index.js';

describe('MemoryBusWriter', () => {
  it('keeps the lines written to each stream, decoded, in order', () => {
    const bus = new MemoryBusWriter();
    const frame = Buffer.from('QUJD');
    bus.write('wk:1:in', encodeClientFrameLine('sess_a', 1, FrameKind.Audio, frame));
    bus.write('gw:1:out', encodeAckLine('sess_a', 2, 1));
    bus.write('wk:1:in', encodeClientFrameLine('sess_a', 2, FrameKind.Json, '{"type":"ping"}'));
    frame.fill(0); // the writer copied the line: later changes to the caller's bytes do not show

    const toWorker = bus.lines('wk:1:in');
    expect(toWorker.map((l) => l.op)).toEqual(['F', 'F']);
    expect(toWorker[0]).toMatchObject({ sid: 'sess_a', seq: 1, kind: 'a' });
    expect(toWorker[0] && 'payload' in toWorker[0] ? toWorker[0].payload.toString() : '').toBe('QUJD');
    expect(bus.lines('gw:1:out')).toEqual([{ op: 'A', sid: 'sess_a', epoch: 2, seq: 1 }]);
    expect(bus.lines('nowhere')).toEqual([]);
    expect(bus.streamNames().sort()).toEqual(['gw:1:out', 'wk:1:in']);
    bus.clear();
    expect(bus.streamNames()).toEqual([]);
  });
});
