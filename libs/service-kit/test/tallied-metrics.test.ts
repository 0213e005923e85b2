import { TalliedCounter, TalliedHistogram } from '@rtv/service-kit';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

/** The exposition text of one registry, with the metric renamed so two registries compare line by line. */
async function exposition(registry: Registry, name: string): Promise<string> {
  return (await registry.metrics()).replaceAll(name, 'm');
}

/** Series → value of one registry's exposition (the metric renamed), for comparing in any order. */
async function series(registry: Registry, name: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await exposition(registry, name)).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** Two expositions hold the same series with the same values (sums of floats to 12 digits). */
async function expectSameSeries(a: [Registry, string], b: [Registry, string]): Promise<void> {
  const left = await series(...a);
  const right = await series(...b);
  expect([...left.keys()].sort()).toEqual([...right.keys()].sort());
  for (const [key, value] of left) expect(value).toBeCloseTo(right.get(key)!, 12);
}

describe('TalliedCounter', () => {
  it('exposes what its tallies counted exactly as prom-client inc would, at each scrape', async () => {
    const tallied = new Registry();
    const plain = new Registry();
    const counter = new TalliedCounter({
      name: 't_total',
      help: 'h',
      labelNames: ['type'],
      registers: [tallied],
    });
    const reference = new Counter({ name: 'p_total', help: 'h', labelNames: ['type'], registers: [plain] });
    const audio = counter.tally({ type: 'audio' });
    expect(counter.tally({ type: 'audio' })).toBe(audio);
    for (let i = 0; i < 5; i++) audio.inc();
    counter.tally({ type: 'text' }).inc(3);
    counter.inc({ type: 'text' }, 2);
    for (let i = 0; i < 5; i++) reference.inc({ type: 'audio' });
    reference.inc({ type: 'text' }, 5);
    await expectSameSeries([tallied, 't_total'], [plain, 'p_total']);

    // A second scrape adds only what came since; a quiet tally does not repeat its sum.
    audio.inc(2);
    reference.inc({ type: 'audio' }, 2);
    await expectSameSeries([tallied, 't_total'], [plain, 'p_total']);
    expect(await exposition(tallied, 't_total')).toContain('m{type="audio"} 7');
  });

  it('forgets pending counts on reset, and keeps its own collect hook', async () => {
    let collected = 0;
    const counter = new TalliedCounter({
      name: 'c_total',
      help: 'h',
      registers: [],
      collect() {
        collected++;
      },
    });
    counter.tally().inc(4);
    counter.reset();
    expect((await counter.get()).values.map((v) => v.value)).toEqual([0]);
    counter.tally().inc(1);
    expect((await counter.get()).values[0]?.value).toBe(1);
    expect(collected).toBe(2);
  });
});

describe('TalliedHistogram', () => {
  it('exposes recorded runs of values exactly as one observe per value would', async () => {
    const tallied = new Registry();
    const plain = new Registry();
    const buckets = [0.001, 0.01, 0.1];
    const histogram = new TalliedHistogram({ name: 't_seconds', help: 'h', buckets, registers: [tallied] });
    const reference = new Histogram({ name: 'p_seconds', help: 'h', buckets, registers: [plain] });
    const runs: Array<[number, number]> = [
      [0.0005, 3],
      [0.001, 1],
      [0.05, 4],
      [2, 2],
      [0, 1],
    ];
    for (const [value, times] of runs) {
      histogram.record(value, times);
      for (let i = 0; i < times; i++) reference.observe(value);
    }
    histogram.observe(0.02);
    reference.observe(0.02);
    histogram.record(Number.NaN, 5);
    histogram.record(0.01, 0);
    await expectSameSeries([tallied, 't_seconds'], [plain, 'p_seconds']);
    expect(await exposition(tallied, 't_seconds')).toContain('m_count 12');

    histogram.record(0.005, 2);
    for (let i = 0; i < 2; i++) reference.observe(0.005);
    await expectSameSeries([tallied, 't_seconds'], [plain, 'p_seconds']);
  });

  it('starts again from zero after reset', async () => {
    const histogram = new TalliedHistogram({ name: 'r_seconds', help: 'h', buckets: [1], registers: [] });
    histogram.record(0.5, 3);
    histogram.reset();
    histogram.record(0.5, 2);
    const values = (await histogram.get()).values;
    expect(values.find((v) => v.metricName === 'r_seconds_count')?.value).toBe(2);
    expect(values.find((v) => v.metricName === 'r_seconds_sum')?.value).toBe(1);
  });

  it('refuses labels', () => {
    expect(
      () => new TalliedHistogram({ name: 'l_seconds', help: 'h', labelNames: ['x'], registers: [] }),
    ).toThrow(/takes no labels/);
  });
});
