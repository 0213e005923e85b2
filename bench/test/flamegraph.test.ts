import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CpuProfile,
  flameGraphIndex,
  renderFlameGraph,
  writeFlameGraphs,
} from '../report/flamegraph.js';

const SRC = 'file:///work/main';

/**
 * root ─┬─ (program)            1 sample
 *       ├─ (idle)               2 samples
 *       ├─ main (services)  ─┬─ deliver (libs, line 10)     1 sample
 *       │                    ├─ deliver again (same label)  1 sample: merges with the one above
 *       │                    └─ parse (native)              1 sample
 *       └─ <anon>& (ws)                                     1 sample
 * 1 ms each: 4 of the 7 ms busy, main 3 of 4 (75 %), deliver 2 of 4 (50 %).
 */
function syntheticProfile(): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3, 4, 5] },
      { id: 2, callFrame: { functionName: '(program)', url: '', lineNumber: -1 } },
      { id: 3, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      {
        id: 4,
        callFrame: { functionName: 'main', url: `${SRC}/services/gateway/src/main.ts`, lineNumber: 0 },
        children: [6, 7, 8],
      },
      {
        id: 5,
        callFrame: { functionName: '<anon>&', url: `${SRC}/node_modules/ws/lib/x.js`, lineNumber: 0 },
      },
      { id: 6, callFrame: { functionName: 'deliver', url: `${SRC}/libs/bus/src/a.ts`, lineNumber: 9 } },
      { id: 7, callFrame: { functionName: 'parse', url: '', lineNumber: -1 } },
      { id: 8, callFrame: { functionName: 'deliver', url: `${SRC}/libs/bus/src/a.ts`, lineNumber: 9 } },
    ],
    samples: [3, 6, 2, 8, 3, 7, 5],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };
}

interface Rect {
  tip: string;
  x: number;
  y: number;
  width: number;
}

/** The frames of a rendered graph, by label (the tooltip's first line, unescaped). */
function framesOf(svg: string): Map<string, Rect> {
  const out = new Map<string, Rect>();
  const re = /<g><title>([^<]*)<\/title><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"/g;
  for (const m of svg.matchAll(re)) {
    const tip = m[1]!;
    const label = tip.split('\n')[0]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    out.set(label, { tip, x: Number(m[2]), y: Number(m[3]), width: Number(m[4]) });
  }
  return out;
}

/**
 * Minimal XML well-formedness: tags balance, attribute values are quoted without `<` or a bare `&`, and
 * text between tags holds no `<`, `>` or bare `&`.
 */
function expectWellFormed(xml: string): void {
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/g;
  const bareAmp = /&(?!(?:amp|lt|gt|quot|apos|#\d+);)/;
  const open: string[] = [];
  let last = 0;
  for (const m of xml.matchAll(tag)) {
    const text = xml.slice(last, m.index);
    expect(text, `text before offset ${m.index}`).not.toMatch(/[<>]/);
    expect(text).not.toMatch(bareAmp);
    expect(m[3] ?? '').not.toMatch(bareAmp);
    if (m[1]) expect(open.pop(), `closing </${m[2]}>`).toBe(m[2]);
    else if (!m[4]) open.push(m[2]!);
    last = m.index + m[0].length;
  }
  expect(xml.slice(last).trim()).toBe('');
  expect(open).toEqual([]);
}

describe('renderFlameGraph', () => {
  const svg = renderFlameGraph(syntheticProfile(), 'voice-gateway');
  const frames = framesOf(svg);
  const all = frames.get('all')!;

  it('merges identical stacks and sizes frames by their share of busy samples', () => {
    expect([...frames.keys()].sort()).toEqual([
      '<anon>& ws/lib/x.js',
      'all',
      'deliver libs/bus/src/a.ts:10',
      'main services/gateway/src/main.ts',
      'parse',
    ]);
    expect(frames.get('main services/gateway/src/main.ts')!.width / all.width).toBeCloseTo(0.75, 3);
    expect(frames.get('deliver libs/bus/src/a.ts:10')!.width / all.width).toBeCloseTo(0.5, 3);
    expect(frames.get('parse')!.width / all.width).toBeCloseTo(0.25, 3);
    expect(frames.get('<anon>& ws/lib/x.js')!.width / all.width).toBeCloseTo(0.25, 3);
    expect(frames.get('deliver libs/bus/src/a.ts:10')!.tip).toContain(
      'self 2.0 ms (50.0 %), total 2.0 ms (50.0 %)',
    );
    expect(frames.get('main services/gateway/src/main.ts')!.tip).toContain(
      'self 0.0 ms (0.0 %), total 3.0 ms (75.0 %)',
    );
  });

  it('puts the root at the bottom and callees above their callers, side by side', () => {
    const main = frames.get('main services/gateway/src/main.ts')!;
    const deliver = frames.get('deliver libs/bus/src/a.ts:10')!;
    const parse = frames.get('parse')!;
    expect(main.y).toBeLessThan(all.y);
    expect(deliver.y).toBeLessThan(main.y);
    expect(parse.y).toBe(deliver.y);
    expect(deliver.x).toBeGreaterThanOrEqual(main.x);
    expect(parse.x + parse.width).toBeLessThanOrEqual(main.x + main.width + 0.01);
  });

  it('leaves idle and (program) out of the busy total but says what share was idle', () => {
    expect(svg).not.toContain('<title>(idle)');
    expect(svg).not.toContain('<title>(program)');
    expect(all.tip).toContain('total 4.0 ms (100.0 %)');
    // 2 of 7 sampled ms idle.
    expect(svg).toMatch(/<title>CPU flame graph: voice-gateway \(28\.6 % idle\)<\/title>/);
    expect(svg).toContain('sampled 0.01 s, busy 0.00 s; left out: idle 28.6 %, (program) 14.3 %');
  });

  it('escapes labels and is well-formed XML', () => {
    expect(svg).toContain('&lt;anon&gt;&amp; ws/lib/x.js');
    expect(svg).not.toContain('<anon>');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).not.toContain('<script');
    expectWellFormed(svg);
  });

  it('weights samples by their time deltas and drops frames under 0.1 % of busy time', () => {
    const profile = syntheticProfile();
    // deliver 3 ms, parse 1 ms, and 1 µs in <anon>&: far under 0.1 %.
    profile.samples = [6, 7, 5];
    profile.timeDeltas = [3000, 1000, 1];
    const weighted = framesOf(renderFlameGraph(profile, 'w'));
    const root = weighted.get('all')!;
    expect(weighted.get('deliver libs/bus/src/a.ts:10')!.width / root.width).toBeCloseTo(3000 / 4001, 3);
    expect(weighted.has('<anon>& ws/lib/x.js')).toBe(false);
  });

  it('omits text on rects too narrow for it and cuts long labels to fit', () => {
    const profile = syntheticProfile();
    // parse gets 1 of 1000 ms: a 1 px wide frame, no room for text.
    profile.samples = [6, 7];
    profile.timeDeltas = [999_000, 1000];
    const out = renderFlameGraph(profile, 'narrow');
    expect(out).toMatch(/<title>parse\n[^<]*<\/title><rect [^>]*\/><\/g>/);
    expect(out).toContain('>deliver libs/bus/src/a.ts:10</text>');
    // deliver at 10 %: 118 px, room for 16 characters.
    const cut = renderFlameGraph({ ...profile, timeDeltas: [100_000, 900_000] }, 'cut');
    expect(cut).toContain('>deliver libs/b..</text>');
    expect(cut).toContain('>parse</text>');
  });
});

describe('writeFlameGraphs', () => {
  const run = mkdtempSync(path.join(os.tmpdir(), 'flame-'));
  afterAll(() => rmSync(run, { recursive: true, force: true }));

  it('writes one SVG per main-thread profile next to profiles.md and lists them', () => {
    const profiles = path.join(run, 'profiles');
    const gateway = path.join(profiles, 'voice-gateway');
    const worker = path.join(profiles, 'voice-worker');
    mkdirSync(gateway, { recursive: true });
    mkdirSync(worker, { recursive: true });
    const json = JSON.stringify(syntheticProfile());
    writeFileSync(path.join(gateway, 'CPU.20260101.120000.111.0.001.cpuprofile'), json);
    // Thread 1 is the tsx loader's: no flame graph.
    writeFileSync(path.join(gateway, 'CPU.20260101.120000.111.1.002.cpuprofile'), json);
    writeFileSync(path.join(worker, 'CPU.20260101.120000.222.0.001.cpuprofile'), json);

    const names = writeFlameGraphs(profiles, run);
    expect(names).toEqual(['flame-voice-gateway.svg', 'flame-voice-worker.svg']);
    for (const name of names) expect(existsSync(path.join(run, name))).toBe(true);
    const svg = readFileSync(path.join(run, 'flame-voice-worker.svg'), 'utf8');
    expect(svg).toContain('CPU flame graph: voice-worker');
    expectWellFormed(svg);
    expect(flameGraphIndex(names)).toContain(
      '- voice-gateway: [flame-voice-gateway.svg](flame-voice-gateway.svg)\n' +
        '- voice-worker: [flame-voice-worker.svg](flame-voice-worker.svg)\n',
    );
    expect(flameGraphIndex([])).toBe('');
  });
});
