import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A random base62 id with a prefix, e.g. `sess_4f0…` (21 chars ≈ 125 bits). Unbiased by rejection. */
export function randomId(prefix: string, length = 21): string {
  let out = prefix;
  while (out.length < prefix.length + length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248) out += ALPHABET[b % 62];
      if (out.length === prefix.length + length) break;
    }
  }
  return out;
}
