#!/usr/bin/env node
// `npm run images [-- options]`: builds the five images from the Dockerfile with whichever container engine
// works here (docker, else podman), tagged realtime-voice-<name>:<chart appVersion>. Where the public base
// image cannot be pulled (no registry reachable), it builds a local one with deploy/images/base.sh and
// passes it as BASE_IMAGE. Node built-ins only.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Dockerfile target → image repository; the chart's `<component>.image.repository` use the same names. */
const IMAGES = /** @type {const} */ ({
  gateway: 'realtime-voice-gateway',
  'session-worker': 'realtime-voice-session-worker',
  'status-api': 'realtime-voice-status-api',
  'demo-web': 'realtime-voice-demo-web',
  client: 'realtime-voice-client',
});

/** @typedef {keyof typeof IMAGES} Target */

const USAGE = `Usage: npm run images [-- options]

Builds ${Object.keys(IMAGES).join(', ')} (Dockerfile targets) as realtime-voice-<name>:<tag>.

  --only <a,b>       Build only these targets
  --tag <tag>        Image tag (default: appVersion of deploy/helm/realtime-voice/Chart.yaml)
  --local-base       Build and use the local Debian + Node base (deploy/images/base.sh) without trying to
                     pull the public one
  --engine <name>    docker or podman (default: docker if \`docker info\` works, else podman)
  --which-engine     Print the engine it would build with (its last line of output) and build nothing
  --rebuild          Run the engine's build even for an image whose inputs did not change (it still uses
                     the engine's layer cache)
  -h, --help         This text

An image is skipped ("up to date") when the engine still has the image this script built from the same
Dockerfile, base image and build-context files (node_modules/.cache/realtime-voice-images.json records them).

Environment: RTV_IMAGES_CA_BUNDLE (CA bundle passed to npm as the build secret "ca"; default NODE_EXTRA_CA_CERTS,
else /etc/ssl/certs/ca-certificates.crt when present).
`;

/** A usage or environment problem: printed without a stack, exit code 2. */
class ImagesError extends Error {}

/** The container engine CLI, with the few operations the build needs. */
class ContainerEngine {
  /** @param {'docker' | 'podman'} name */
  constructor(name) {
    this.name = name;
  }

  /**
   * @param {string[]} args
   * @param {{ inherit?: boolean }} [options]
   */
  run(args, { inherit = false } = {}) {
    // BuildKit for docker: the classic builder knows neither RUN --mount nor --secret.
    const env = this.name === 'docker' ? { ...process.env, DOCKER_BUILDKIT: '1' } : process.env;
    return spawnSync(this.name, args, {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      stdio: inherit ? 'inherit' : 'pipe',
    });
  }

  works() {
    return this.run(['info']).status === 0;
  }

  /**
   * Why this engine cannot build the Dockerfile, or undefined when it can. A docker CLI from 23 on builds with
   * BuildKit only through its buildx plugin, and stops at the first build without it; older CLIs carry BuildKit
   * themselves. Podman (buildah) always can.
   * @returns {string | undefined}
   */
  cannotBuild() {
    if (this.name !== 'docker' || this.run(['buildx', 'version']).status === 0) return undefined;
    const client = this.run(['version', '--format', '{{.Client.Version}}']).stdout.trim();
    const major = Number(/^(\d+)\./.exec(client)?.[1]);
    if (Number.isInteger(major) && major < 23) return undefined;
    return `the docker CLI (${client || 'version unknown'}) builds with BuildKit only through the buildx plugin, and \`docker buildx version\` failed`;
  }

  /** @param {string} image */
  has(image) {
    return this.run(['image', 'inspect', image]).status === 0;
  }

  /** @param {string} image */
  pull(image) {
    return this.run(['pull', '--quiet', image]).status === 0;
  }

  /** @param {string} image its id, or undefined when the engine does not have it */
  id(image) {
    const res = this.run(['image', 'inspect', '--format', '{{.Id}}', image]);
    return res.status === 0 ? res.stdout.trim() : undefined;
  }

  /** @param {string} image size in bytes as the engine reports it */
  size(image) {
    return Number(this.run(['image', 'inspect', '--format', '{{.Size}}', image]).stdout.trim());
  }
}

/**
 * The engine to build with: the one named, else docker if its daemon answers, else podman. Rootful podman on a
 * host without systemd needs deploy/images/setup-podman.sh's containers.conf, written here when missing.
 * @param {string | undefined} wanted
 */
function pickEngine(wanted) {
  if (wanted !== undefined && wanted !== 'docker' && wanted !== 'podman') {
    throw new ImagesError(`--engine must be docker or podman (got ${wanted})`);
  }
  /** @type {('docker' | 'podman')[]} */
  const candidates = wanted ? [wanted] : ['docker', 'podman'];
  for (const name of candidates) {
    const engine = new ContainerEngine(name);
    if (!engine.works()) continue;
    const why = engine.cannotBuild();
    if (why !== undefined) {
      if (wanted)
        throw new ImagesError(`--engine ${name}: ${why}. Install docker-buildx, or use --engine podman`);
      console.log(`images: not using docker: ${why}`);
      continue;
    }
    if (name === 'podman') preparePodman();
    return engine;
  }
  throw new ImagesError(
    `no working container engine: ${candidates.map((c) => `\`${c} info\``).join(' and ')} failed. Start the ` +
      'Docker daemon, or install podman (Debian: apt-get install podman buildah) and run ' +
      'deploy/images/setup-podman.sh as root.',
  );
}

function preparePodman() {
  if (existsSync('/etc/containers/containers.conf') || process.getuid?.() !== 0) return;
  const res = spawnSync('bash', [path.join(ROOT, 'deploy/images/setup-podman.sh')], { stdio: 'inherit' });
  if (res.status !== 0) throw new ImagesError('deploy/images/setup-podman.sh failed');
}

/** The chart's appVersion, which must equal every service package's version: one version for everything. */
function releaseVersion() {
  const chart = readFileSync(path.join(ROOT, 'deploy/helm/realtime-voice/Chart.yaml'), 'utf8');
  const appVersion = /^appVersion:\s*"?([^"\s]+)"?\s*$/m.exec(chart)?.[1];
  if (!appVersion) throw new ImagesError('deploy/helm/realtime-voice/Chart.yaml has no appVersion');
  for (const pkg of ['gateway', 'session-worker', 'status-api', 'demo-web']) {
    const file = path.join(ROOT, 'services', pkg, 'package.json');
    const { version } = JSON.parse(readFileSync(file, 'utf8'));
    if (version !== appVersion) {
      throw new ImagesError(
        `services/${pkg}/package.json has version ${version}, the chart's appVersion is ${appVersion}`,
      );
    }
  }
  return appVersion;
}

/** The Dockerfile's default BASE_IMAGE (the public Node image). */
function defaultBaseImage() {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const base = /^ARG BASE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
  if (!base) throw new ImagesError('the Dockerfile declares no ARG BASE_IMAGE=<default>');
  return base;
}

/**
 * The base to build on: the public image when it is here or can be pulled, else the local one from base.sh
 * (built once per machine, kept between runs). Podman resolves no short names without a search registry,
 * so the public name goes fully qualified.
 * @param {ContainerEngine} engine
 * @param {boolean} localBase
 * @returns {string | undefined} a BASE_IMAGE build argument, or undefined for the Dockerfile's default
 */
function chooseBase(engine, localBase) {
  const publicBase = defaultBaseImage();
  const qualified = publicBase.includes('/') ? publicBase : `docker.io/library/${publicBase}`;
  if (!localBase) {
    if (engine.has(qualified) || engine.pull(qualified)) {
      return engine.name === 'docker' ? undefined : qualified;
    }
    console.log(`images: ${qualified} cannot be pulled; using the local base (deploy/images/base.sh)`);
  }
  const res = spawnSync('bash', [path.join(ROOT, 'deploy/images/base.sh')], {
    cwd: ROOT,
    env: { ...process.env, ENGINE: engine.name },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (res.status !== 0) throw new ImagesError('deploy/images/base.sh failed');
  return res.stdout.trim().split('\n').at(-1);
}

/**
 * What an image was built from, to skip builds whose inputs are unchanged: the engine's layer cache would
 * reuse every layer anyway, but checking that costs podman ~30 s per image (it digests every COPY source).
 * The digest covers the Dockerfile, the base image's id, the target and every file of the build context as
 * .dockerignore describes it. Patterns this reader does not know exclude nothing, so the digest can only
 * change needlessly (a rebuild from the layer cache), never stay the same for a changed context; a negated
 * pattern (`!`) turns skipping off.
 */
class BuildInputs {
  static RECORD = path.join(ROOT, 'node_modules/.cache/realtime-voice-images.json');

  constructor() {
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    this.usable = !ignore.some((line) => line.startsWith('!'));
    /** @type {((rel: string, name: string) => boolean)[]} */
    this.excluded = ignore.flatMap((pattern) => {
      const anywhere = pattern.startsWith('**/') ? pattern.slice(3) : undefined;
      if (anywhere !== undefined && !anywhere.includes('/')) {
        const re = globRegExp(anywhere);
        return [(/** @type {string} */ _rel, /** @type {string} */ name) => re.test(name)];
      }
      if (!pattern.includes('/')) {
        const re = globRegExp(pattern);
        return [(/** @type {string} */ rel) => !rel.includes('/') && re.test(rel)];
      }
      return [];
    });
    this.contextDigest = this.usable ? this.#digestContext() : '';
    /** @type {Record<string, { digest: string, id: string }>} */
    this.record = existsSync(BuildInputs.RECORD) ? JSON.parse(readFileSync(BuildInputs.RECORD, 'utf8')) : {};
  }

  #digestContext() {
    const hash = createHash('sha256');
    hash.update(readFileSync(path.join(ROOT, 'Dockerfile')));
    /** @param {string} dir relative to ROOT, '' for the root */
    const walk = (dir) => {
      const entries = readdirSync(path.join(ROOT, dir), { withFileTypes: true }).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const entry of entries) {
        const rel = dir ? `${dir}/${entry.name}` : entry.name;
        if (this.excluded.some((test) => test(rel, entry.name))) continue;
        if (entry.isDirectory()) walk(rel);
        else if (entry.isFile() || entry.isSymbolicLink()) {
          hash.update(`\0${rel}\0`);
          hash.update(readFileSync(path.join(ROOT, rel)));
        }
      }
    };
    walk('');
    return hash.digest('hex');
  }

  /**
   * @param {string} target
   * @param {string} baseId
   */
  digest(target, baseId) {
    return createHash('sha256').update(`${this.contextDigest}\0${baseId}\0${target}`).digest('hex');
  }

  /**
   * @param {string} key engine and image
   * @param {string} digest
   * @param {string | undefined} imageId the engine's id of the image now, if it has one
   */
  upToDate(key, digest, imageId) {
    const built = this.record[key];
    return this.usable && imageId !== undefined && built?.digest === digest && built.id === imageId;
  }

  /**
   * @param {string} key
   * @param {string} digest
   * @param {string} id
   */
  save(key, digest, id) {
    this.record[key] = { digest, id };
    mkdirSync(path.dirname(BuildInputs.RECORD), { recursive: true });
    writeFileSync(BuildInputs.RECORD, `${JSON.stringify(this.record, null, 2)}\n`);
  }
}

/** A .dockerignore glob of one path segment (`*` within a name) as a regular expression. */
function globRegExp(/** @type {string} */ glob) {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*');
  return new RegExp(`^${escaped}$`);
}

/** The CA bundle npm should trust in the build (a TLS-intercepting proxy's), if this host has one. */
function caBundle() {
  const candidates = [
    process.env.RTV_IMAGES_CA_BUNDLE,
    // biome-ignore lint/suspicious/noUndeclaredEnvVars: Node's own variable, read outside turbo tasks
    process.env.NODE_EXTRA_CA_CERTS,
    '/etc/ssl/certs/ca-certificates.crt',
  ];
  return candidates.find((file) => file && existsSync(file));
}

/**
 * @param {ContainerEngine} engine
 * @param {{ target: Target, image: string, baseImage?: string, ca?: string }} build
 */
function buildImage(engine, { target, image, baseImage, ca }) {
  const args = ['build', '--network=host', '--target', target, '--tag', image, '--file', 'Dockerfile'];
  // Podman writes OCI images by default, which drop HEALTHCHECK; the Docker format keeps it.
  if (engine.name === 'podman') args.push('--format', 'docker');
  if (baseImage) args.push('--build-arg', `BASE_IMAGE=${baseImage}`);
  if (ca) args.push('--secret', `id=ca,src=${ca}`);
  args.push('.');
  console.log(`images: ${engine.name} ${args.join(' ')}`);
  const started = Date.now();
  const res = engine.run(args, { inherit: true });
  if (res.status !== 0) throw new Error(`building ${image} failed (${engine.name} exited ${res.status})`);
  return (Date.now() - started) / 1000;
}

/** @param {string[]} argv */
function parseOptions(argv) {
  const spec = /** @type {const} */ ({
    only: { type: 'string' },
    tag: { type: 'string' },
    'local-base': { type: 'boolean', default: false },
    engine: { type: 'string' },
    rebuild: { type: 'boolean', default: false },
    'which-engine': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: spec }));
  } catch (err) {
    throw new ImagesError(`${err instanceof Error ? err.message : err}\n\n${USAGE}`);
  }
  const all = /** @type {Target[]} */ (Object.keys(IMAGES));
  const targets = values.only ? values.only.split(',').map((t) => t.trim()) : all;
  const unknown = targets.filter((t) => !all.includes(/** @type {Target} */ (t)));
  if (unknown.length > 0)
    throw new ImagesError(`unknown image ${unknown.join(', ')} (known: ${all.join(', ')})`);
  return { ...values, targets: /** @type {Target[]} */ (targets) };
}

/** @param {string[]} argv */
async function main(argv) {
  const options = parseOptions(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }
  const tag = options.tag ?? releaseVersion();
  const engine = pickEngine(options.engine);
  if (options['which-engine']) {
    console.log(engine.name);
    return;
  }
  const baseImage = chooseBase(engine, options['local-base']);
  const ca = caBundle();
  const base = baseImage ?? defaultBaseImage();
  console.log(`images: engine ${engine.name}, base ${base}, tag ${tag}`);
  const inputs = new BuildInputs();
  // Without the base's id (docker pulling it during the build) nothing can be judged up to date.
  const baseId = engine.id(base) ?? `unknown ${Date.now()}`;
  const results = [];
  for (const target of options.targets) {
    const image = `${IMAGES[target]}:${tag}`;
    const key = `${engine.name} ${image}`;
    const digest = inputs.digest(target, baseId);
    let outcome = 'up to date';
    if (options.rebuild || !inputs.upToDate(key, digest, engine.id(image))) {
      outcome = `built in ${buildImage(engine, { target, image, baseImage, ca }).toFixed(1)} s`;
      inputs.save(key, digest, /** @type {string} */ (engine.id(image)));
    }
    results.push({ image, outcome, megabytes: engine.size(image) / 1e6 });
  }
  for (const { image, outcome, megabytes } of results) {
    console.log(`images: ${image}  ${megabytes.toFixed(0)} MB  ${outcome}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`images: ${err instanceof Error ? err.message : String(err)}\n`);
  if (!(err instanceof ImagesError) && err instanceof Error && err.stack)
    process.stderr.write(`${err.stack}\n`);
  process.exitCode = err instanceof ImagesError ? 2 : 1;
});
