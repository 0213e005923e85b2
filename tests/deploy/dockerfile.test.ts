import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_ENV } from '../../services/demo-web/src/config.js';
import { type Dockerfile, execForm, inherited, last, parseDockerfile, stage } from './support/dockerfile.js';
import { REPO_ROOT } from './support/helm.js';
import { SERVICES } from './support/services.js';

// No Docker engine runs here, so the image recipe is checked against what it builds from: the service
// packages, their build configs, the lockfile and the services' own config defaults.

/** Package (as pruned under /pruned/<name>) → the stage installing its production dependencies. */
const APP_STAGES: Record<string, string> = {
  gateway: 'gateway-app',
  'session-worker': 'session-worker-app',
  'status-api': 'status-api-app',
  'demo-web': 'demo-web-app',
  'cli-client': 'client-app',
};

const dockerfile: Dockerfile = parseDockerfile(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const readJson = (file: string) => JSON.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'));

describe('Dockerfile', () => {
  it('builds on a glibc Node image of the version the repo pins', () => {
    const base = dockerfile.globalArgs.get('BASE_IMAGE');
    expect(base).toMatch(/^node:\d+-(bookworm|bullseye|trixie)(-slim)?$/);
    // uWebSockets.js ships glibc binaries only: a musl (Alpine) base would fail when the gateway starts.
    expect(base).not.toMatch(/alpine/);
    const nvmrc = readFileSync(path.join(REPO_ROOT, '.nvmrc'), 'utf8').trim();
    expect(base!.split(':')[1]!.split('-')[0]).toBe(nvmrc.split('.')[0]);
    for (const s of dockerfile.stages) {
      const fromStage = dockerfile.stages.some((other) => other.name === s.from);
      // Every stage starts from the one base image (BASE_IMAGE, replaceable) or from another stage.
      expect(fromStage || s.from === `\${BASE_IMAGE}`, `stage ${s.name} FROM ${s.from}`).toBe(true);
    }
  });

  it('prunes with the turbo version the lockfile pins', () => {
    const turboArg = stage(dockerfile, 'prune').instructions.find(
      (i) => i.keyword === 'ARG' && i.args.startsWith('TURBO_VERSION='),
    );
    const lock = readJson('package-lock.json') as { packages: Record<string, { version?: string }> };
    expect(turboArg?.args).toBe(`TURBO_VERSION=${lock.packages['node_modules/turbo']?.version}`);
  });

  it('installs production dependencies only, without install scripts, in each image', () => {
    for (const [pkg, appStage] of Object.entries(APP_STAGES)) {
      const installs = stage(dockerfile, appStage).instructions.filter(
        (i) => i.keyword === 'RUN' && i.args.includes('npm ci'),
      );
      expect(installs, pkg).toHaveLength(1);
      expect(installs[0]!.args).toContain('--omit=dev');
      expect(installs[0]!.args).toContain('--ignore-scripts');
      const copies = stage(dockerfile, appStage).instructions.filter((i) => i.keyword === 'COPY');
      expect(copies[0]!.args, pkg).toBe(`--from=prune /pruned/${pkg}/json/ ./`);
      // Pruned and built under its package name.
      const prune = stage(dockerfile, 'prune').instructions.find((i) => i.args.startsWith('turbo prune'));
      expect(prune?.args, pkg).toMatch(new RegExp(`for svc in [^;]*\\b${pkg}\\b`));
      const build = stage(dockerfile, 'build').instructions.find((i) => i.args.includes('turbo run build'));
      expect(build?.args, pkg).toContain(`--filter=@rtv/${pkg}`);
    }
  });

  it('gives npm the build secret `ca` when there is one, and never stores it in the image', () => {
    const npmSteps = dockerfile.stages.flatMap((s) =>
      s.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install)\b/.test(i.args)),
    );
    expect(npmSteps.length).toBe(2 + Object.keys(APP_STAGES).length);
    for (const step of npmSteps) {
      expect(step.args).toMatch(/^--mount=type=secret,id=ca,target=(\S+) /);
      const target = /target=(\S+)/.exec(step.args)![1]!;
      // Only a non-empty file counts: without the secret the mount point is absent (or empty) and npm runs as is.
      expect(step.args).toContain(`if [ -s ${target} ]; then export NODE_EXTRA_CA_CERTS=${target}; fi`);
    }
    const all = dockerfile.stages.flatMap((s) => s.instructions);
    expect(all.filter((i) => i.keyword === 'ENV' && i.args.includes('NODE_EXTRA_CA_CERTS'))).toEqual([]);
    expect(
      all.filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && /\.(pem|crt)\b/.test(i.args)),
    ).toEqual([]);
  });

  it("tags images with the chart's appVersion, which every service package shares", () => {
    const chart = readFileSync(path.join(REPO_ROOT, 'deploy/helm/realtime-voice/Chart.yaml'), 'utf8');
    const appVersion = /^appVersion:\s*"?([^"\s]+)"?/m.exec(chart)?.[1];
    for (const svc of [...Object.keys(SERVICES), 'demo-web'])
      expect((readJson(`services/${svc}/package.json`) as { version: string }).version, svc).toBe(appVersion);
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

  describe('target demo-web', () => {
    it('starts the built server, with the page sources it bundles at start where build.js looks for them', () => {
      expect(execForm(last(dockerfile, 'demo-web', 'CMD')!.args)).toEqual([
        'node',
        'services/demo-web/dist/main.js',
      ]);
      const build = readJson('services/demo-web/tsconfig.build.json') as {
        compilerOptions: { rootDir: string; outDir: string };
      };
      expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
      // build.ts bundles <its own folder>/page/{main,openai-main}.ts and reads page/index.html.
      const buildTs = readFileSync(path.join(REPO_ROOT, 'services/demo-web/src/build.ts'), 'utf8');
      expect(buildTs).toContain("path.join(path.dirname(fileURLToPath(import.meta.url)), 'page')");
      for (const file of ['main.ts', 'openai-main.ts', 'index.html'])
        expect(existsSync(path.join(REPO_ROOT, 'services/demo-web/src/page', file)), file).toBe(true);
      const app = stage(dockerfile, 'demo-web-app')
        .instructions.map((i) => i.args)
        .join('\n');
      expect(app).toContain('cp -a services/demo-web/src/page services/demo-web/dist/page');
      // The libraries' sources, which esbuild resolves through their "source" condition.
      expect(app).toContain('--from=prune /pruned/demo-web/full/ ./');
    });

    it('runs as uid 1000 under tini, exposing and health-checking its configured port', () => {
      expect(last(dockerfile, 'demo-web', 'USER')!.args).toBe('1000:1000');
      expect(execForm(last(dockerfile, 'demo-web', 'ENTRYPOINT')!.args)).toEqual(['/usr/bin/tini', '--']);
      const port = DEMO_ENV.RTV_DEMO_PORT.default;
      expect(last(dockerfile, 'demo-web', 'EXPOSE')!.args).toBe(String(port));
      const check = last(dockerfile, 'demo-web', 'HEALTHCHECK')!.args;
      expect(check).toContain(`process.env.RTV_DEMO_PORT||${port})+'/readyz'`);
    });
  });

  describe('target client', () => {
    it('runs the built CLI client as its entry point, so container arguments are its flags', () => {
      const entry = execForm(last(dockerfile, 'client', 'ENTRYPOINT')!.args);
      expect(entry).toEqual(['/usr/bin/tini', '--', 'node', 'libs/cli-client/dist/main.js']);
      const build = readJson('libs/cli-client/tsconfig.build.json') as {
        compilerOptions: { rootDir: string; outDir: string };
      };
      expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
      expect(existsSync(path.join(REPO_ROOT, 'libs/cli-client/src/main.ts'))).toBe(true);
      expect(execForm(last(dockerfile, 'client', 'CMD')!.args)).toEqual(['--help']);
      expect(last(dockerfile, 'client', 'USER')!.args).toBe('1000:1000');
    });
  });

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
