// The project's own TypeScript sources, read as text for the architecture tests.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@rtv/testing';

export interface SourceFile {
  /** Path from the repository root, with forward slashes. */
  readonly path: string;
  readonly text: string;
}

/** Every `.ts` file under `<root>/*\/src` (e.g. `services`), tests and declaration files excluded. */
export function sourcesUnder(root: 'libs' | 'services'): SourceFile[] {
  const out: SourceFile[] = [];
  for (const pkg of readdirSync(path.join(REPO_ROOT, root))) {
    walk(path.join(REPO_ROOT, root, pkg, 'src'), out);
  }
  return out;
}

function walk(dir: string, out: SourceFile[]): void {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (
      entry.name.endsWith('.ts') &&
      !entry.name.endsWith('.test.ts') &&
      !entry.name.endsWith('.d.ts')
    ) {
      out.push({
        path: path.relative(REPO_ROOT, full).split(path.sep).join('/'),
        text: readFileSync(full, 'utf8'),
      });
    }
  }
}
