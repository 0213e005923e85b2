// `npm run images` picks an engine that can build the Dockerfile: a docker CLI from 23 on without its buildx
// plugin cannot (it stops at the first build), so it is skipped with the reason, or refused when asked for.
// The engines here are stand-ins on PATH that answer the few questions the script asks.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/helm.js';

const bin = mkdtempSync(path.join(os.tmpdir(), 'rtv-engines-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

/**
 * A CLI that answers `info`, `buildx version`, `version --format …` and `image inspect` (it has every image) as
 * told, and fails anything else, builds included.
 */
function fakeEngine(
  name: string,
  { info, buildx, version }: { info: boolean; buildx: boolean; version: string },
) {
  const file = path.join(bin, name);
  writeFileSync(
    file,
    `#!/bin/sh
case "$1" in
  info) exit ${info ? 0 : 1};;
  buildx) exit ${buildx ? 0 : 1};;
  version) echo "${version}"; exit 0;;
  image) exit 0;;
esac
exit 1
`,
  );
  chmodSync(file, 0o755);
}

function images(args: string[]) {
  const res = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/images.mjs'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` },
    encoding: 'utf8',
  });
  return { code: res.status, out: `${res.stdout}${res.stderr}` };
}

describe('npm run images: choosing the engine', () => {
  it('refuses --engine docker when the CLI needs buildx and has none, saying what to do', () => {
    fakeEngine('docker', { info: true, buildx: false, version: '28.2.2' });
    fakeEngine('podman', { info: false, buildx: false, version: '' });
    const { code, out } = images(['--engine', 'docker']);
    expect(code, out).toBe(2);
    expect(out).toContain(
      '--engine docker: the docker CLI (28.2.2) builds with BuildKit only through the buildx plugin, and `docker buildx version` failed. Install docker-buildx, or use --engine podman',
    );
    expect(out).not.toMatch(/^\s+at /m);
  });

  it('skips such a docker by itself, with the reason, for the next engine', () => {
    fakeEngine('docker', { info: true, buildx: false, version: '28.2.2' });
    fakeEngine('podman', { info: false, buildx: false, version: '' });
    const { code, out } = images([]);
    expect(out).toContain('images: not using docker: the docker CLI (28.2.2) builds with BuildKit only');
    expect(code, out).toBe(2);
    expect(out).toContain('no working container engine');
  });

  it('takes a docker CLI older than 23 without buildx: it carries BuildKit itself', () => {
    fakeEngine('docker', { info: true, buildx: false, version: '20.10.24+dfsg1' });
    // The stand-in has the public base, so the script goes on to build, which it fails: as far as this goes.
    const { out } = images(['--engine', 'docker', '--only', 'gateway']);
    expect(out).toMatch(/^images: engine docker, base /m);
    expect(out).toContain('images: docker build --network=host --target gateway');
    expect(out).not.toContain('buildx');
  });
});

describe('the Dockerfile', () => {
  it('names no `# syntax=` frontend, which BuildKit would pull from a registry', () => {
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).not.toMatch(/^#\s*syntax\s*=/im);
  });
});
