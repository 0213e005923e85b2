/**
 * Base64 checks for audio on the hot path: every 20 ms frame from every client passes through here, so
 * nothing is decoded. Validity is decided by scanning the characters, and the decoded size is computed
 * from the length and the padding alone.
 *
 * "Standard base64" means RFC 4648 §4: alphabet `A–Z a–z 0–9 + /`, length a multiple of 4, `=` padding
 * only at the end. Not accepted: base64url (`-`, `_`), missing padding, whitespace or line breaks. The
 * unused low bits before the padding are not required to be zero, as in common decoders.
 */

/** Anchored pattern for standard padded base64 (ECMAScript syntax, so also usable in JSON Schema). */
export const BASE64_PATTERN = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';

const ANCHORED = new RegExp(BASE64_PATTERN);

// An unanchored search for one character outside the alphabet (padding included). V8 runs this about
// twice as fast as the anchored pattern above or a char-code loop (see bench/validate.bench.ts).
const OUTSIDE_ALPHABET = /[^A-Za-z0-9+/=]/;

/**
 * 1 for each byte of the standard base64 alphabet (`A–Z a–z 0–9 + /`), padding excluded: what the byte-level
 * scanners of audio frames check each byte against.
 */
export const BASE64_ALPHABET_BYTE: Readonly<Uint8Array> = (() => {
  const table = new Uint8Array(256);
  for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')
    table[ch.charCodeAt(0)] = 1;
  return table;
})();

const EQUALS = 0x3d;

/** 1 where both bytes of a little-endian 16-bit pair are in the alphabet: two bytes per lookup. */
const BASE64_PAIR = (() => {
  const table = new Uint8Array(65536);
  for (let lo = 0; lo < 256; lo++) {
    if (BASE64_ALPHABET_BYTE[lo] === 0) continue;
    for (let hi = 0; hi < 256; hi++) table[lo | (hi << 8)] = BASE64_ALPHABET_BYTE[hi]!;
  }
  return table;
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The index of the first byte in `bytes[from, to)` outside the standard base64 alphabet (padding excluded),
 * or `to`. The hot paths check every audio frame with it, so the middle is read four bytes at a time from
 * 4-aligned words, two bytes per table lookup: about twice as fast as a byte loop.
 */
export function base64RunEnd(bytes: Uint8Array, from: number, to: number): number {
  let i = from;
  const alphabet = BASE64_ALPHABET_BYTE;
  if (LITTLE_ENDIAN && to - from >= 64) {
    const base = bytes.byteOffset;
    while (((base + i) & 3) !== 0 && alphabet[bytes[i]!] === 1) i++;
    if (((base + i) & 3) === 0) {
      const words = new Uint32Array(bytes.buffer, base + i, (to - i) >>> 2);
      const pairs = BASE64_PAIR;
      let k = 0;
      for (; k < words.length; k++) {
        const w = words[k]!;
        if ((pairs[w & 0xffff]! & pairs[w >>> 16]!) === 0) break;
      }
      i += k << 2;
    }
  }
  while (i < to && alphabet[bytes[i]!] === 1) i++;
  return i;
}

/** True when `s` is standard padded base64. The empty string is valid (it encodes zero bytes). */
export function isStandardBase64(s: string): boolean {
  const n = s.length;
  if ((n & 3) !== 0 || OUTSIDE_ALPHABET.test(s)) return false;
  // The alphabet check let '=' through anywhere: it may only be the last one or two characters.
  const pad = s.indexOf('=');
  return pad === -1 || pad === n - 1 || (pad === n - 2 && s.charCodeAt(n - 1) === EQUALS);
}

/**
 * Number of bytes `s` decodes to, from its length and padding (O(1)). Only meaningful when
 * {@link isStandardBase64} holds.
 */
export function base64DecodedLength(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  const pad = s.charCodeAt(n - 1) === EQUALS ? (s.charCodeAt(n - 2) === EQUALS ? 2 : 1) : 0;
  return (n >>> 2) * 3 - pad;
}

/**
 * Says what is wrong with a string that failed {@link isStandardBase64}, as a rule phrased for an
 * error message ("must …"). Runs only on the failure path, so it may be slower.
 */
export function describeBase64Problem(s: string): string {
  const bad = OUTSIDE_ALPHABET.exec(s);
  if (bad !== null) {
    const ch = bad[0];
    if (/\s/.test(ch)) return 'must be valid base64 without whitespace or line breaks';
    if (ch === '-' || ch === '_') {
      return 'must be valid standard base64 (alphabet + and /), not base64url (- and _)';
    }
    return `must be valid base64 (invalid character at index ${bad.index})`;
  }
  if ((s.length & 3) !== 0) return 'must be valid base64 with = padding (length a multiple of 4)';
  return 'must be valid base64 (= padding may only end the string)';
}

const ALPHABET = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') {
  ALPHABET[ch.charCodeAt(0)] = 1;
}

/**
 * The implementations compared by the benchmark. All three must agree on every input (a test checks);
 * {@link isStandardBase64} is the `rejectScan` one, the fastest measured.
 */
export const BASE64_CANDIDATES: Readonly<Record<string, (s: string) => boolean>> = {
  anchoredRegex: (s) => ANCHORED.test(s),
  charCodeLoop: (s) => {
    const n = s.length;
    if ((n & 3) !== 0) return false;
    let end = n;
    if (n > 0 && s.charCodeAt(n - 1) === EQUALS) end = s.charCodeAt(n - 2) === EQUALS ? n - 2 : n - 1;
    for (let i = 0; i < end; i++) {
      const c = s.charCodeAt(i);
      if (c > 127 || ALPHABET[c] === 0) return false;
    }
    return true;
  },
  rejectScan: isStandardBase64,
};
