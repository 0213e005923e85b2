import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { helmBin, REPO_ROOT } from './support/helm.js';

const SCRIPT = path.join(REPO_ROOT, 'scripts/helm.mjs');

function runScript(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [SCRIPT, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
}

describe('scripts/helm.mjs', () => {
  it('prints the path of the pinned helm, cached outside the repository', () => {
    const bin = helmBin();
    expect(path.isAbsolute(bin)).toBe(true);
    expect(bin.startsWith(REPO_ROOT)).toBe(false);
    const version = spawnSync(bin, ['version', '--short'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^v4\.\d+\.\d+/);
  });

  it('runs helm with the arguments given', () => {
    const res = runScript(['version', '--template', '{{ .Version }}']);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^v4\.\d+\.\d+$/);
  });

  it('honours HELM_BIN, and says so plainly when it does not run', () => {
    const ok = runScript([], { HELM_BIN: helmBin() });
    expect(ok.stdout.trim()).toBe(helmBin());
    const bad = runScript([], { HELM_BIN: path.join(REPO_ROOT, 'package.json') });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`HELM_BIN=${path.join(REPO_ROOT, 'package.json')} does not run`);
  });
});
