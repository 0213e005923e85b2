// Every Lua script declares each key it touches in KEYS (DESIGN §8): Redis Cluster routes a script by its
// declared keys, so a key built inside the script from ARGV or a reply may live on another node.
import { describe, expect, it } from 'vitest';
import { sourcesUnder } from './sources.js';

/** Commands whose first argument is not a key. */
const KEYLESS = new Set(['TIME', 'PING', 'INFO', 'DBSIZE']);

/** `redis.call('CMD', first…` and `redis.pcall(…)` in every script of `text`, with the first argument. */
function scriptCalls(text: string): Array<{ command: string; firstArg: string }> {
  const calls: Array<{ command: string; firstArg: string }> = [];
  for (const m of text.matchAll(/redis\.p?call\(\s*'([A-Za-z]+)'\s*(?:,\s*([^,)]+))?/g)) {
    calls.push({ command: m[1]!.toUpperCase(), firstArg: (m[2] ?? '').trim() });
  }
  return calls;
}

describe('Lua scripts', () => {
  const files = [...sourcesUnder('libs'), ...sourcesUnder('services')].filter((f) =>
    f.text.includes('redis.call('),
  );

  it('are found where the project keeps them', () => {
    // Guards the scan itself: if these moved, the check below would pass on nothing.
    const paths = files.map((f) => f.path);
    expect(paths).toContain('libs/bus/src/session-scripts.ts');
    expect(paths).toContain('libs/auth/src/user-connections.ts');
    expect(scriptCalls(files.map((f) => f.text).join('\n')).length).toBeGreaterThan(20);
  });

  // `KEYS[i]` is a loop over the declared keys (`for i = 1, #KEYS`), as in a script that saves many sessions.
  it('touch only keys passed in KEYS', () => {
    const offending: string[] = [];
    for (const file of files) {
      for (const call of scriptCalls(file.text)) {
        if (KEYLESS.has(call.command)) continue;
        if (!/^KEYS\[(\d+|i)\]$/.test(call.firstArg))
          offending.push(`${file.path}: ${call.command} ${call.firstArg}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('the check catches a key built from ARGV', () => {
    const bad = "redis.call('EXISTS', ARGV[1] .. id .. ':lock')";
    expect(scriptCalls(bad)).toEqual([{ command: 'EXISTS', firstArg: "ARGV[1] .. id .. ':lock'" }]);
  });
});
