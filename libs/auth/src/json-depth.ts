/**
 * JSON nesting-depth limits. The protocol parser (`parseClientFrame` in `@rtv/protocol`) does not bound
 * depth itself: V8's `JSON.parse` is iterative, so a 1 MiB frame of `[[[[…` parses into ~500,000 nested
 * arrays before the closed schemas reject it, and any later recursive walk of such a value
 * (`JSON.stringify`, a logger, a deep clone) overflows the stack. The scan below rejects it first, for the
 * cost of one pass that jumps over string contents with `indexOf`.
 */

/**
 * A generous bound: the deepest valid client message is 3 levels
 * (`{"session_update":{"turn_detection":{…}}}`), and no legitimate frame comes near 32.
 */
export const DEFAULT_MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Whether the JSON text (a string, or its UTF-8 bytes, before parsing) nests arrays and objects more
 * than `maxDepth` deep. Brackets inside strings do not count. On text that is not valid JSON the answer
 * is best-effort, which is enough: such a frame fails to parse anyway.
 */
export function jsonDepthExceeds(json: string | Uint8Array, maxDepth = DEFAULT_MAX_JSON_DEPTH): boolean {
  return typeof json === 'string' ? stringDepthExceeds(json, maxDepth) : bytesDepthExceeds(json, maxDepth);
}

function stringDepthExceeds(s: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(s, i);
      if (i < 0) return false;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

/** Index of the quote that closes the string opened at `open`, or -1 when it is never closed. */
function closingQuote(s: string, open: number): number {
  let j = open;
  for (;;) {
    j = s.indexOf('"', j + 1);
    if (j < 0) return -1;
    // The quote is escaped when an odd number of backslashes precede it.
    let k = j - 1;
    while (s.charCodeAt(k) === BACKSLASH) k--;
    if (((j - 1 - k) & 1) === 0) return j;
  }
}

// The same scan over bytes: in UTF-8 every byte of a multi-byte character is >= 0x80, so no byte of one
// can be mistaken for a quote, backslash or bracket.
function bytesDepthExceeds(b: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === QUOTE) {
      let j = i;
      for (;;) {
        j = b.indexOf(QUOTE, j + 1);
        if (j < 0) return false;
        let k = j - 1;
        while (b[k] === BACKSLASH) k--;
        if (((j - 1 - k) & 1) === 0) break;
      }
      i = j;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

/**
 * The same limit for a value that is already parsed (from a source that did not go through
 * {@link jsonDepthExceeds}). Iterative, and it stops descending at `maxDepth + 1`, so it cannot overflow
 * the stack on the values it exists to catch.
 */
export function valueDepthExceeds(value: unknown, maxDepth = DEFAULT_MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, parentDepth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const depth = parentDepth + 1;
    if (depth > maxDepth) return true;
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const child of children) {
      if (child !== null && typeof child === 'object') stack.push([child, depth]);
    }
  }
  return false;
}
