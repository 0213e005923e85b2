import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Dockerfile, execForm, inherited, last, parseDockerfile, stage } from './support/dockerfile.js';
import { REPO_ROOT } from './support/helm.js';
import { SERVICES } from './support/services.js';

// No Docker engine runs here, so the image recipe is checked against what it builds from: the service
// packages, their build configs, the lockfile and the services' own config defaults.

const dockerfile: Dockerfile = parseDockerfile(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const readJson = (file: string) => JSON.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'));

describe('Dockerfile', () => {
  it('builds on a glibc Node image of the version the repo pins', () => {
    const base = dockerfile.globalArgs.get('NODE_IMAGE');
    expect(base).toMatch(/^node:\d+-(bookworm|bullseye|trixie)(-slim)?$/);
    // uWebSockets.js ships glibc binaries only: a musl (Alpine) base would fail when the gateway starts.
    expect(base).not.toMatch(/alpine/);
    const nvmrc = readFileSync(path.join(REPO_ROOT, '.nvmrc'), 'utf8').trim();
    expect(base!.split(':')[1]!.split('-')[0]).toBe(nvmrc.split('.')[0]);
    for (const s of dockerfile.stages) {
      const fromStage = dockerfile.stages.some((other) => other.name === s.from);
      // Every stage starts from the one pinned base image or from another stage.
      expect(fromStage || s.from === `\${NODE_IMAGE}`, `stage ${s.name} FROM ${s.from}`).toBe(true);
    }
  });

  it('prunes with the turbo version the lockfile pins', () => {
    const turboArg = stage(dockerfile, 'prune').instructions.find(
      (i) => i.keyword === 'ARG' && i.args.startsWith('TURBO_VERSION='),
    );
    const lock = readJson('package-lock.json') as { packages: Record<string, { version?: string }> };
    expect(turboArg?.args).toBe(`TURBO_VERSION=${lock.packages['node_modules/turbo']?.version}`);
  });

  it('installs production dependencies only, without install scripts, in each service image', () => {
    for (const svc of Object.keys(SERVICES)) {
      const installs = stage(dockerfile, `${svc}-app`).instructions.filter(
        (i) => i.keyword === 'RUN' && i.args.includes('npm ci'),
      );
      expect(installs, svc).toHaveLength(1);
      expect(installs[0]!.args).toContain('--omit=dev');
      expect(installs[0]!.args).toContain('--ignore-scripts');
      const copies = stage(dockerfile, `${svc}-app`).instructions.filter((i) => i.keyword === 'COPY');
      expect(copies[0]!.args, svc).toBe(`--from=prune /pruned/${svc}/json/ ./`);
    }
  });

  for (const svc of Object.values(SERVICES)) {
    describe(`target ${svc.name}`, () => {
      it('starts the built entry point of the service package', () => {
        const cmd = execForm(last(dockerfile, svc.name, 'CMD')!.args);
        expect(cmd).toEqual(['node', `services/${svc.name}/dist/main.js`]);
        // npm run build (tsc -p tsconfig.build.json) maps src/main.ts to that file.
        const build = readJson(`services/${svc.name}/tsconfig.build.json`) as {
          compilerOptions: { rootDir: string; outDir: string };
        };
        expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
        expect(existsSync(path.join(REPO_ROOT, `services/${svc.name}/src/main.ts`))).toBe(true);
        const pkg = readJson(`services/${svc.name}/package.json`) as {
          name: string;
          scripts: { build: string };
        };
        expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
        // Pruned (and so built and installed) under its package name.
        expect(pkg.name).toBe(`@rtv/${svc.name}`);
        const prune = stage(dockerfile, 'prune').instructions.find((i) => i.args.startsWith('turbo prune'));
        expect(prune?.args).toContain(`@rtv/${svc.name} `);
        expect(prune?.args).toMatch(new RegExp(`for svc in [^;]*\\b${svc.name}\\b`));
      });

      it('runs as a non-root numeric user under tini', () => {
        const user = last(dockerfile, svc.name, 'USER')!.args;
        // Numeric, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
        expect(user).toMatch(/^\d+(:\d+)?$/);
        expect(Number(user.split(':')[0])).toBeGreaterThan(0);
        expect(execForm(last(dockerfile, svc.name, 'ENTRYPOINT')!.args)).toEqual(['/usr/bin/tini', '--']);
        expect(
          inherited(dockerfile, svc.name).some((i) => i.args.includes('install') && i.args.includes('tini')),
        ).toBe(true);
      });

      it("exposes the service's default ports and health-checks its /readyz", () => {
        const exposed = last(dockerfile, svc.name, 'EXPOSE')!.args.split(/\s+/).map(Number).sort();
        const expected = [svc.adminPort, ...(svc.publicPort ? [svc.publicPort] : [])].sort();
        expect(exposed).toEqual(expected);
        const check = last(dockerfile, svc.name, 'HEALTHCHECK')!.args;
        const probe = execForm(check.slice(check.indexOf('CMD')));
        expect(probe[0]).toBe('node');
        expect(probe.join(' ')).toContain(`process.env.${svc.adminPortVar}||${svc.adminPort})+'/readyz'`);
      });
    });
  }

  it('keeps local state and secrets out of the build context', () => {
    const ignored = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const pattern of ['.git', '**/node_modules', '**/dist', '.env', '.env.*']) {
      expect(ignored).toContain(pattern);
    }
    // What the build does need must not be ignored.
    for (const needed of [
      'libs',
      'services',
      'package.json',
      'package-lock.json',
      'tsconfig.base.json',
      'turbo.json',
    ]) {
      expect(ignored).not.toContain(needed);
    }
  });
});
