/**
 * CPU flame graphs (`flame-<process>.svg`) from the bench's `--cpu-prof` profiles: identical stacks merged,
 * root at the bottom, each frame as wide as its share of the busy samples (weighted by their time deltas).
 * profiles.md says which areas and functions cost the most; the flame graph shows through which call paths.
 * Hand-written, self-contained SVG (no script): readable in any browser, hover a frame for its times.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { areaOf, mainThreadProfiles, shortUrl } from './profile.js';

/** The parts of a V8 call frame the flame graph uses. */
export interface FlameCallFrame {
  functionName: string;
  url: string;
  /** 0-based; -1 or absent when V8 has none. */
  lineNumber?: number;
}

/** The parts of a V8 `.cpuprofile` the flame graph uses. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: FlameCallFrame; children?: number[]; parent?: number }>;
  samples: number[];
  /** Microseconds before each sample; counted as that sample's duration, as profiles.md does. */
  timeDeltas: number[];
}

/** Colour families: whose code a frame runs. */
type Kind = 'service' | 'libs' | 'deps' | 'node' | 'native' | 'other';

/** One merged stack frame: every profile node with the same label under the same merged parent. */
interface Frame {
  label: string;
  kind: Kind;
  selfUs: number;
  totalUs: number;
  children: Map<string, Frame>;
}

/** A frame placed on the canvas (x and width in pixels, depth 0 = the root row). */
interface Placed {
  frame: Frame;
  x: number;
  width: number;
  depth: number;
}

/** The merged stacks of one profile and the time left out of them. */
interface Merged {
  root: Frame;
  sampledUs: number;
  idleUs: number;
  programUs: number;
}

const WIDTH = 1200;
const PAD = 10;
const ROW = 17;
const HEADER = 74;
/** Frames under this share of the busy time are left out (with their callees): they only bloat the file. */
const MIN_SHARE = 0.001;
/** Advance of one character of the 11 px monospace frame font. */
const CHAR_W = 6.7;
/** V8 pseudo-frames whose samples are not the process working; left out of the busy total. */
const IDLE = '(idle)';
const PROGRAM = '(program)';

const KINDS: Record<Kind, { name: string; hue: number; sat: number; light: number }> = {
  service: { name: 'service code', hue: 12, sat: 80, light: 58 },
  libs: { name: 'libs', hue: 38, sat: 88, light: 55 },
  deps: { name: 'node_modules', hue: 100, sat: 45, light: 55 },
  node: { name: 'node internals', hue: 205, sat: 60, light: 64 },
  native: { name: 'native / V8', hue: 265, sat: 30, light: 70 },
  other: { name: 'other', hue: 0, sat: 0, light: 72 },
};

/** XML-escapes text for element content and double-quoted attributes. */
const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const ms = (us: number) => `${(us / 1000).toFixed(1)} ms`;
const pct = (part: number, whole: number) => (whole > 0 ? `${((part / whole) * 100).toFixed(1)} %` : '—');

/**
 * `name file:line`, the file shortened as in profiles.md. The line is left out when it is the first: tsx
 * hands V8 single-line modules, so there every function would read `:1`.
 */
function frameLabel(frame: FlameCallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const line = (frame.lineNumber ?? -1) > 0 ? `:${(frame.lineNumber ?? 0) + 1}` : '';
  return `${name} ${shortUrl(frame.url)}${line}`;
}

/** The colour family of a frame, from the same areas profiles.md lists. */
function kindOf(frame: FlameCallFrame): Kind {
  const area = areaOf(frame);
  if (area === 'node internals') return 'node';
  if (area.startsWith('(')) return 'native';
  if (/node_modules\//.test(frame.url)) return 'deps';
  if (area.startsWith('libs/')) return 'libs';
  if (area.startsWith('services/') || area.startsWith('bench/')) return 'service';
  return 'other';
}

const newFrame = (label: string, kind: Kind): Frame => ({
  label,
  kind,
  selfUs: 0,
  totalUs: 0,
  children: new Map(),
});

/** Microseconds of samples per profile node id (negative deltas, which V8 writes now and then, count 0). */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
  }
  return self;
}

/** Parent id of each node, from `children` (what Node writes) or `parent` (what DevTools exports). */
function parentsOf(profile: CpuProfile): Map<number, number> {
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parents.set(child, node.id);
    if (node.parent !== undefined) parents.set(node.id, node.parent);
  }
  return parents;
}

/**
 * Merges the profile's call tree by label along each path, so a function reached through the same callers
 * is one frame however many V8 nodes (columns, closures, scripts) it had. Idle and `(program)` samples go
 * to their own totals instead.
 */
function mergeStacks(profile: CpuProfile): Merged {
  const self = selfTimes(profile);
  const parents = parentsOf(profile);
  const byId = new Map<number, CpuProfile['nodes'][number]>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const merged: Merged = { root: newFrame('all', 'native'), sampledUs: 0, idleUs: 0, programUs: 0 };
  const frameOf = new Map<number, Frame>();
  // Parents before children whatever the node order: walk down from the roots.
  const todo: number[] = [];
  for (const node of profile.nodes) if (!parents.has(node.id)) todo.push(node.id);
  while (todo.length > 0) {
    const id = todo.pop()!;
    const node = byId.get(id);
    if (!node) continue;
    const us = self.get(id) ?? 0;
    merged.sampledUs += us;
    const fn = node.callFrame.functionName;
    if (fn === IDLE || fn === PROGRAM) {
      if (fn === IDLE) merged.idleUs += us;
      else merged.programUs += us;
      continue;
    }
    const frame = attach(merged.root, frameOf.get(parents.get(id) ?? -1), node.callFrame);
    frame.selfUs += us;
    frameOf.set(id, frame);
    for (const child of node.children ?? []) todo.push(child);
  }
  sumTotals(merged.root);
  return merged;
}

/** The merged frame for a call frame under `parent`; a root node (no parent) is the `all` frame. */
function attach(root: Frame, parent: Frame | undefined, callFrame: FlameCallFrame): Frame {
  if (!parent) return root;
  const label = frameLabel(callFrame);
  let frame = parent.children.get(label);
  if (!frame) {
    frame = newFrame(label, kindOf(callFrame));
    parent.children.set(label, frame);
  }
  return frame;
}

/** Fills in total (self + callees) time, bottom up. */
function sumTotals(frame: Frame): number {
  let total = frame.selfUs;
  for (const child of frame.children.values()) total += sumTotals(child);
  frame.totalUs = total;
  return total;
}

/**
 * Places a frame's callees left to right, sorted by label (as classic flame graphs do, so the same call
 * path sits at about the same place in two runs' graphs), dropping those under MIN_SHARE.
 */
function place(parent: Placed, busyUs: number, out: Placed[]): void {
  const children = [...parent.frame.children.values()].sort((a, b) => (a.label < b.label ? -1 : 1));
  let x = parent.x;
  for (const frame of children) {
    const width = (frame.totalUs / busyUs) * (WIDTH - 2 * PAD);
    if (frame.totalUs / busyUs >= MIN_SHARE) {
      const placed = { frame, x, width, depth: parent.depth + 1 };
      out.push(placed);
      place(placed, busyUs, out);
    }
    x += width;
  }
}

/** Fill colour: the kind's hue, lightness varied a little by label so neighbours stand apart. */
function colorOf(frame: Frame): string {
  const k = KINDS[frame.kind];
  let hash = 0;
  for (let i = 0; i < frame.label.length; i++) hash = (hash * 31 + frame.label.charCodeAt(i)) >>> 0;
  return `hsl(${k.hue + (hash % 13)},${k.sat}%,${k.light + (hash % 11) - 5}%)`;
}

/** The label cut to what fits in `width` pixels, or '' when not even a few characters fit. */
function fitLabel(label: string, width: number): string {
  const chars = Math.floor((width - 6) / CHAR_W);
  if (chars < 3) return '';
  return label.length <= chars ? label : `${label.slice(0, chars - 2)}..`;
}

/** One frame: rect, tooltip with self and total time, and as much of the label as fits. */
function renderFrame(p: Placed, busyUs: number, maxDepth: number): string {
  const { frame } = p;
  const y = HEADER + (maxDepth - p.depth) * ROW;
  const tip =
    `${frame.label}\nself ${ms(frame.selfUs)} (${pct(frame.selfUs, busyUs)}), ` +
    `total ${ms(frame.totalUs)} (${pct(frame.totalUs, busyUs)})`;
  const text = fitLabel(frame.label, p.width);
  return (
    `<g><title>${esc(tip)}</title>` +
    `<rect x="${p.x.toFixed(2)}" y="${y}" width="${p.width.toFixed(2)}" height="${ROW - 1}" fill="${colorOf(frame)}"/>` +
    (text ? `<text x="${(p.x + 3).toFixed(2)}" y="${y + ROW - 5}">${esc(text)}</text>` : '') +
    '</g>'
  );
}

/** Legend of the colour families, one swatch each, on one line under the title. */
function renderLegend(y: number): string {
  const parts: string[] = [];
  let x = PAD;
  for (const kind of Object.keys(KINDS) as Kind[]) {
    const k = KINDS[kind];
    parts.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="hsl(${k.hue + 6},${k.sat}%,${k.light}%)"/>`,
      `<text x="${x + 17}" y="${y}" font-family="system-ui, sans-serif">${esc(k.name)}</text>`,
    );
    x += 30 + k.name.length * 7;
  }
  return parts.join('');
}

/**
 * The flame graph of one CPU profile as SVG text. `title` names the process; the subtitle gives the sampled
 * and busy time and the idle share, which the graph itself leaves out.
 */
export function renderFlameGraph(profile: CpuProfile, title: string): string {
  const { root, sampledUs, idleUs, programUs } = mergeStacks(profile);
  const busyUs = root.totalUs;
  const rootPlaced: Placed = { frame: root, x: PAD, width: WIDTH - 2 * PAD, depth: 0 };
  const placed = busyUs > 0 ? [rootPlaced] : [];
  if (busyUs > 0) place(rootPlaced, busyUs, placed);
  let maxDepth = 0;
  for (const p of placed) maxDepth = Math.max(maxDepth, p.depth);
  const height = HEADER + (maxDepth + 1) * ROW + PAD;
  const heading = `CPU flame graph: ${title} (${pct(idleUs, sampledUs)} idle)`;
  const subtitle =
    `sampled ${(sampledUs / 1e6).toFixed(2)} s, busy ${(busyUs / 1e6).toFixed(2)} s; ` +
    `left out: idle ${pct(idleUs, sampledUs)}, (program) ${pct(programUs, sampledUs)}; ` +
    `frames under ${MIN_SHARE * 100} % of busy time omitted`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`,
    `<title>${esc(heading)}</title>`,
    '<style>g rect{stroke:#fff;stroke-width:0.5}g:hover rect{stroke:#000;stroke-width:1}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff" stroke="none"/>`,
    `<text x="${PAD}" y="22" font-family="system-ui, sans-serif" font-size="15" font-weight="600">${esc(heading)}</text>`,
    `<text x="${PAD}" y="41" font-family="system-ui, sans-serif" fill="#444">${esc(subtitle)}</text>`,
    renderLegend(60),
    ...placed.map((p) => renderFrame(p, busyUs, maxDepth)),
    '</svg>',
    '',
  ].join('\n');
}

/**
 * `flame-<folder>.svg` for a profile; when a folder holds several main-thread profiles (several processes
 * of one name), each also gets its pid.
 */
function flameFileName(file: string, shared: boolean): string {
  const folder = path.basename(path.dirname(file)).replace(/[^\w.-]/g, '_');
  const pid = /\.(\d+)\.0\.\d+\.cpuprofile$/.exec(file)?.[1];
  return shared && pid ? `flame-${folder}-${pid}.svg` : `flame-${folder}.svg`;
}

/**
 * Writes a flame graph into `outDir` for each main-thread profile under `profileDir` (the files
 * profiles.md summarises) and returns the file names written. A profile that cannot be read (a process
 * killed mid-write) is skipped rather than failing the run's report.
 */
export function writeFlameGraphs(profileDir: string, outDir: string): string[] {
  const files = mainThreadProfiles(profileDir);
  const perFolder = new Map<string, number>();
  for (const file of files) perFolder.set(path.dirname(file), (perFolder.get(path.dirname(file)) ?? 0) + 1);
  const written: string[] = [];
  for (const file of files) {
    const name = flameFileName(file, (perFolder.get(path.dirname(file)) ?? 0) > 1);
    let profile: CpuProfile;
    try {
      profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    } catch {
      continue;
    }
    writeFileSync(path.join(outDir, name), renderFlameGraph(profile, name.slice(6, -4)));
    written.push(name);
  }
  return written;
}

/** The profiles.md section naming each process's flame graph ('' when there are none). */
export function flameGraphIndex(names: string[]): string {
  if (names.length === 0) return '';
  return [
    '',
    '## Flame graphs',
    '',
    'One SVG per process (main thread), next to this file: open it in a browser and hover a frame for its times.',
    '',
    ...names.map((name) => `- ${name.slice(6, -4)}: [${name}](${name})`),
    '',
  ].join('\n');
}
