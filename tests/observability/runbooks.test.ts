// docs/runbooks.md has a section for every alert the rules ship, and every section says what the alert means,
// what to check first (with commands or queries to run) and how to mitigate. Each alert's runbook_url leads to
// its section: the anchor GitHub gives the section's heading.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alertRules, RUNBOOKS_PATH } from './helpers/artifacts.js';

interface Section {
  heading: string;
  anchor: string;
  body: string;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The `## ` sections of a Markdown document (fenced code is not scanned for headings). */
function sections(markdown: string): Section[] {
  const out: Section[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? undefined : /^## (.+)$/.exec(line)?.[1];
    if (heading !== undefined) out.push({ heading, anchor: anchorOf(heading), body: '' });
    else if (out.length > 0) out[out.length - 1]!.body += `${line}\n`;
  }
  return out;
}

const PARTS = ['**What it means.**', '**First checks.**', '**Mitigation.**'] as const;

/** What is wrong with one section: a missing or empty part, or first checks without anything to run. */
function problemsOf(section: Section): string[] {
  const problems: string[] = [];
  const at = PARTS.map((p) => section.body.indexOf(p));
  PARTS.forEach((part, i) => {
    if (at[i]! < 0) problems.push(`${section.heading}: no ${part}`);
  });
  if (at.some((i) => i < 0)) return problems;
  if (!(at[0]! < at[1]! && at[1]! < at[2]!)) problems.push(`${section.heading}: parts out of order`);
  const text = (from: number, to: number) => section.body.slice(at[from]! + PARTS[from]!.length, to).trim();
  const meaning = text(0, at[1]!);
  const checks = text(1, at[2]!);
  const mitigation = text(2, section.body.length);
  if (meaning.length < 40) problems.push(`${section.heading}: what it means is empty`);
  if (mitigation.length < 40) problems.push(`${section.heading}: mitigation is empty`);
  // Concrete first checks: at least one fenced block of PromQL, kubectl or redis-cli to run.
  if (!/```(promql|sh)\n[^`]*(\w+\{|kubectl |redis-cli |curl )/.test(checks))
    problems.push(`${section.heading}: first checks have no command or query`);
  return problems;
}

describe('docs/runbooks.md', () => {
  const doc = readFileSync(RUNBOOKS_PATH, 'utf8');
  const bySection = new Map(sections(doc).map((s) => [s.anchor, s]));
  const alerts = alertRules();

  it('gives every alert a runbook_url whose anchor is a section of runbooks.md', () => {
    expect(alerts.length).toBeGreaterThan(20);
    const broken = alerts.filter((a) => {
      const url = a.annotations?.runbook_url ?? '';
      const [file, anchor] = url.split('#');
      return file !== 'docs/runbooks.md' || !anchor || !bySection.has(anchor);
    });
    expect(broken.map((a) => `${a.alert}: ${a.annotations?.runbook_url}`)).toEqual([]);
  });

  it('has a section per alert and none for an alert that does not exist', () => {
    const anchors = new Set(alerts.map((a) => a.annotations?.runbook_url?.split('#')[1]));
    expect([...bySection.keys()].filter((a) => !anchors.has(a))).toEqual([]);
  });

  it('says in every section what the alert means, what to check first and how to mitigate', () => {
    expect([...bySection.values()].flatMap(problemsOf)).toEqual([]);
  });

  it('finds a missing part, an empty check and a bad anchor (the checks can fail)', () => {
    const broken = sections(
      '## RealtimeVoiceX\n\n**What it means.** Something went wrong somewhere in the cluster, badly.\n\n' +
        '**First checks.** Look around.\n\n## RealtimeVoiceY\n\n**Mitigation.** x\n',
    );
    expect(broken.map((s) => s.anchor)).toEqual(['realtimevoicex', 'realtimevoicey']);
    expect(problemsOf(broken[0]!)).toEqual(['RealtimeVoiceX: no **Mitigation.**']);
    expect(problemsOf(broken[1]!)).toContain('RealtimeVoiceY: no **First checks.**');
    const emptyChecks: Section = {
      heading: 'Z',
      anchor: 'z',
      body:
        '**What it means.** Something went wrong somewhere in the cluster, badly.\n' +
        '**First checks.** Have a look.\n**Mitigation.** Restart whatever looks broken, then look again.\n',
    };
    expect(problemsOf(emptyChecks)).toEqual(['Z: first checks have no command or query']);
    expect(anchorOf('Redis: down (again)')).toBe('redis-down-again');
  });
});
