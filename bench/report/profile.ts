/**
 * Reads the `--cpu-prof` profiles of a run and lists where the busy time went: self time per package
 * (our libs and services, ws, ioredis, uWS, node internals, GC) and the top functions. Good enough to tell
 * JSON parsing from base64 from Redis round trips without opening a profiler UI.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame }>;
  samples: number[];
  timeDeltas: number[];
}

const TOP = 20;

/** The package or area a frame belongs to. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const own = /\/((?:libs|services|bench)\/[^/]+)\//.exec(url);
  return own ? own[1]! : url;
}

/** A frame's file, relative to the repo (`libs/…`, `services/…`) or to node_modules; node: URLs as they are. */
export function shortUrl(url: string): string {
  const own = /\/((?:libs|services|bench)\/.*)$/.exec(url);
  if (own) return own[1]!;
  const nm = /node_modules\/(.*)$/.exec(url);
  return nm ? nm[1]! : url;
}

const pct = (part: number, whole: number) => (whole > 0 ? `${((part / whole) * 100).toFixed(1)} %` : '—');

export function summarizeProfile(file: string): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  let total = 0;
  let idle = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id);
    if (!frame) continue;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    // tsx hands V8 single-line modules, so line numbers say nothing: function and file identify the frame.
    const name = `${frame.functionName || '(anonymous)'} ${frame.url ? shortUrl(frame.url) : ''}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const busy = total - idle;
  const lines = [
    `### ${path.basename(path.dirname(file))}`,
    '',
    `Sampled ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${pct(busy, total)}).`,
    '',
    '| area | share of busy time |',
    '|---|---|',
    ...[...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([area, us]) => `| ${area} | ${pct(us, busy)} |`),
    '',
    '| function (self time) | share of busy time |',
    '|---|---|',
    ...[...functions.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([fn, us]) => `| \`${fn.replace(/\|/g, '\\|')}\` | ${pct(us, busy)} |`),
    '',
  ];
  return lines.join('\n');
}

/**
 * The main-thread `*.cpuprofile` files under `dir` (one folder per scenario and process), sorted: the ones
 * profiles.md summarises and the flame graphs are drawn from.
 */
export function mainThreadProfiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread; the others are
      // the tsx loader's, busy only while modules load.
      else if (/\.\d+\.0\.\d+\.cpuprofile$/.test(name)) files.push(p);
    }
  };
  walk(dir);
  return files;
}

/** Every main-thread `*.cpuprofile` under `dir` (one folder per scenario and process), summarised. */
export function summarizeProfiles(dir: string): string {
  const files = mainThreadProfiles(dir);
  const head = [
    '# CPU profiles',
    '',
    `From \`${dir}\`; open a file in Chrome DevTools for the full picture.`,
    '',
  ];
  if (files.length === 0) return [...head, 'No profiles were written.', ''].join('\n');
  return [...head, ...files.map(summarizeProfile)].join('\n');
}
