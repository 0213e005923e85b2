/**
 * Writes the published JSON Schema files to libs/protocol/schemas/ from the TypeBox sources, and
 * removes files that no longer correspond to a message. Run after changing a schema:
 *
 *   npm run schemas -w @rtv/protocol
 *
 * test/schemas.test.ts fails when the committed files differ from what this would write.
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { jsonSchemaFiles } from '../src/json-schema.js';

const dir = fileURLToPath(new URL('../schemas/', import.meta.url));
const files = jsonSchemaFiles();

for (const [name, content] of files) await writeFile(`${dir}${name}`, content);
for (const name of await readdir(dir)) {
  if (name.endsWith('.json') && !files.has(name)) await rm(`${dir}${name}`);
}
console.log(`wrote ${files.size} schema files to ${dir}`);
