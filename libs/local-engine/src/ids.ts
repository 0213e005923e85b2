import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 21;

// Ids are minted on every delta in echo mode, so random bytes are drawn from a pool instead of one
// syscall per id. 248 is the largest multiple of 62 below 256: rejecting bytes above it keeps ids unbiased.
let pool = Buffer.alloc(0);
let poolOffset = 0;

function nextByte(): number {
  if (poolOffset >= pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

/** Random base62 string, as used after the prefix of every provider id. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const b = nextByte();
    if (b < 248) out += BASE62[b % 62];
  }
  return out;
}

export type IdPrefix = 'event' | 'item' | 'resp' | 'sess' | 'conv' | 'call';

/** Provider-style id: `<prefix>_` + 21 base62 characters, e.g. `event_Ct1OZ4pf0LWcnAxuHWRFN`. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(ID_LENGTH)}`;
}
