// A real child process started the way the bench starts services: its log keeps everything it printed, while
// the tail kept for error messages stays short.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { launch } from '../lib/processes.js';

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('launch', () => {
  it("keeps a process's whole output for its log and only the last 32 KB for error messages", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-bench-proc-'));
    temps.push(dir);
    const entry = path.join(dir, 'chatty.mjs');
    // 2,000 numbered lines of 100 bytes (about 200 KB) on stdout, then ready.
    writeFileSync(
      entry,
      `import http from 'node:http';
for (let i = 0; i < 2000; i++) process.stdout.write(\`line \${String(i).padStart(4, '0')} \${'x'.repeat(89)}\\n\`);
http.createServer((_req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`,
    );
    const port = await freePort();
    const proc = await launch(
      'chatty',
      entry,
      { PORT: String(port) },
      { readyUrl: `http://127.0.0.1:${port}/` },
    );
    await proc.stop();
    const log = proc.log();
    expect(log.split('\n').filter((l) => l.startsWith('line '))).toHaveLength(2000);
    expect(log.startsWith('line 0000 ')).toBe(true);
    expect(proc.output().length).toBeLessThanOrEqual(32 * 1024);
    expect(proc.output()).toContain('line 1999 ');
    expect(proc.output()).not.toContain('line 0000 ');
  });
});
