/**
 * `p99-vs-sessions.svg`: round-trip p99 against concurrent sessions, one line per target, log-scale latency
 * axis, the pass threshold dashed. Hand-written SVG: no dependency, readable in any browser or on GitHub.
 */
import type { TargetKind, VoiceResult } from './types.js';

const W = 720;
const H = 420;
const M = { left: 70, right: 24, top: 48, bottom: 56 };
const COLORS: Record<TargetKind, string> = { stack: '#1f6feb', baseline: '#d9480f', remote: '#2b8a3e' };
const LABELS: Record<TargetKind, string> = {
  stack: 'stack (gateway → Redis → worker)',
  baseline: 'baseline relay',
  remote: 'deployed cluster (--url)',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function renderChart(voice: VoiceResult): string {
  const steps = voice.steps.filter((s) => s.rtt.count > 0);
  const xs = steps.map((s) => s.sessions);
  const xMax = Math.max(100, ...xs) * 1.05;
  const ys = steps.map((s) => s.rtt.p99Ms);
  const yMin = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(1, ...ys))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(voice.thresholdMs * 2, ...ys)));
  const px = (x: number) => M.left + (x / xMax) * (W - M.left - M.right);
  const py = (y: number) => {
    const t = (Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin));
    return H - M.bottom - t * (H - M.top - M.bottom);
  };

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">Round-trip p99 vs concurrent sessions</text>`,
  ];
  // Grid and y ticks at 1-2-5 per decade.
  for (let decade = yMin; decade < yMax * 1.001; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const v = decade * m;
      if (v > yMax * 1.001) break;
      const y = py(v).toFixed(1);
      parts.push(
        `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`,
        `<text x="${M.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${v >= 1 ? v : v.toFixed(1)}</text>`,
      );
    }
  }
  const xStep = xMax > 1200 ? 400 : xMax > 500 ? 200 : xMax > 100 ? 50 : 10;
  for (let x = 0; x <= xMax; x += xStep) {
    const X = px(x).toFixed(1);
    parts.push(
      `<line x1="${X}" x2="${X}" y1="${M.top}" y2="${H - M.bottom}" stroke="#f1f3f5"/>`,
      `<text x="${X}" y="${H - M.bottom + 18}" text-anchor="middle" fill="#444">${x}</text>`,
    );
  }
  parts.push(
    `<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">concurrent sessions (20 ms frames in real time)</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">round-trip p99 (ms, log scale)</text>`,
  );
  const ty = py(voice.thresholdMs).toFixed(1);
  parts.push(
    `<line x1="${M.left}" x2="${W - M.right}" y1="${ty}" y2="${ty}" stroke="#c92a2a" stroke-dasharray="6 4"/>`,
    `<text x="${W - M.right - 4}" y="${Number(ty) - 6}" text-anchor="end" fill="#c92a2a">${voice.thresholdMs} ms threshold</text>`,
  );

  const kinds = [...new Set(steps.map((s) => s.target))];
  kinds.forEach((kind, i) => {
    const points = steps.filter((s) => s.target === kind).sort((a, b) => a.sessions - b.sessions);
    const color = COLORS[kind];
    const d = points.map(
      (s, j) => `${j === 0 ? 'M' : 'L'}${px(s.sessions).toFixed(1)},${py(s.rtt.p99Ms).toFixed(1)}`,
    );
    parts.push(`<path d="${d.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const s of points) {
      // Failed steps are hollow: lost frames or p99 over the threshold.
      const fill = s.passed ? color : '#fff';
      parts.push(
        `<circle cx="${px(s.sessions).toFixed(1)}" cy="${py(s.rtt.p99Ms).toFixed(1)}" r="4" fill="${fill}" stroke="${color}" stroke-width="2">` +
          `<title>${esc(`${kind}, ${s.sessions} sessions: p99 ${s.rtt.p99Ms} ms, lost ${s.lost}`)}</title></circle>`,
      );
    }
    const ly = M.top + 8 + i * 18;
    parts.push(
      `<line x1="${M.left + 12}" x2="${M.left + 36}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${M.left + 42}" y="${ly}" dominant-baseline="middle">${esc(LABELS[kind])}</text>`,
    );
  });
  const ly = M.top + 8 + kinds.length * 18;
  parts.push(
    `<circle cx="${M.left + 24}" cy="${ly}" r="4" fill="#fff" stroke="#666" stroke-width="2"/>`,
    `<text x="${M.left + 42}" y="${ly}" dominant-baseline="middle" fill="#444">hollow: step failed (p99 over threshold or frames lost)</text>`,
    '</svg>',
    '',
  );
  return parts.join('\n');
}
