// The layers of the repository (DESIGN §1): libraries never import services, and no service imports another;
// what two services share lives in libs/.
import { describe, expect, it } from 'vitest';
import { sourcesUnder } from './sources.js';

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

function importsOf(text: string): string[] {
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]!);
}

describe('layers', () => {
  it('no library imports a service, and no library reaches into another by path', () => {
    const offending: string[] = [];
    for (const file of sourcesUnder('libs')) {
      for (const spec of importsOf(file.text)) {
        if (spec.includes('services/') || /^\.\.\/\.\.\/[^.]/.test(spec))
          offending.push(`${file.path}: ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('no service imports another service', () => {
    const offending: string[] = [];
    const files = sourcesUnder('services');
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const own = file.path.split('/')[1]!;
      for (const spec of importsOf(file.text)) {
        const other =
          /services\/([^/]+)/.exec(spec)?.[1] ??
          /^@rtv\/(gateway|session-worker|status-api)$/.exec(spec)?.[1];
        if ((other && other !== own) || /^\.\.\/\.\.\/\.\./.test(spec))
          offending.push(`${file.path}: ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
