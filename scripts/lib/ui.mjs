// Terminal output for the launcher: colour only on a TTY (NO_COLOR / FORCE_COLOR respected), and child
// output re-emitted line by line behind a padded `[name]` tag.
import readline from 'node:readline';

/** @param {NodeJS.WriteStream | { isTTY?: boolean }} stream */
export function colorEnabled(stream) {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: terminal convention read outside turbo tasks
  if (process.env.NO_COLOR) return false;
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: terminal convention read outside turbo tasks
  const force = process.env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return Boolean(stream.isTTY);
}

const CODES = /** @type {const} */ ({
  bold: 1,
  dim: 2,
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
});

/** @typedef {keyof typeof CODES} Color */

/** Colours that tell services apart; red and green are kept for failure and success. */
export const TAG_COLORS = /** @type {Color[]} */ (['cyan', 'magenta', 'blue', 'yellow']);

const useColor = colorEnabled(process.stdout);

/**
 * @param {Color} color
 * @param {string} text
 */
export function paint(color, text) {
  return useColor ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

/** Launcher messages share the tag column with the services so the output lines up. */
let tagWidth = '[launcher]'.length;

/** @param {number} width */
export function reserveTagWidth(width) {
  tagWidth = Math.max(tagWidth, width);
}

/**
 * @param {string} name
 * @param {Color} color
 */
export function formatTag(name, color) {
  return paint(color, `[${name}]`.padEnd(tagWidth));
}

/** @param {string} message */
export function say(message) {
  process.stdout.write(`${formatTag('launcher', 'bold')} ${message}\n`);
}

/** @param {string} message */
export function fail(message) {
  process.stderr.write(`${formatTag('launcher', 'bold')} ${paint('red', message)}\n`);
}

/**
 * Re-emits every line of `input` on `output` behind `tag`, and appends the raw line to `sink` when given.
 * @param {NodeJS.ReadableStream} input
 * @param {NodeJS.WritableStream} output
 * @param {string} tag
 * @param {(line: string) => void} [sink]
 */
export function prefixLines(input, output, tag, sink) {
  const rl = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  rl.on('line', (line) => {
    output.write(`${tag} ${line}\n`);
    sink?.(line);
  });
}

/** @param {number} ms */
export function formatDuration(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
