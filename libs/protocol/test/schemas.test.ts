import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_MESSAGE_TYPES, jsonSchemaFiles, SERVER_MESSAGE_TYPES } from '../src/index.js';

const dir = new URL('../schemas/', import.meta.url);

describe('published JSON Schema files', () => {
  const generated = jsonSchemaFiles();

  it('are exactly what scripts/write-schemas.ts generates (run `npm run schemas -w @rtv/protocol`)', () => {
    const committed = readdirSync(dir).filter((name) => name.endsWith('.json'));
    expect(committed.sort()).toEqual([...generated.keys()].sort());
    for (const [name, content] of generated) {
      expect(readFileSync(new URL(name, dir), 'utf8'), name).toBe(content);
    }
  });

  it('cover every message type plus the two unions', () => {
    const expected = [
      ...CLIENT_MESSAGE_TYPES.map((type) => `client.${type}.json`),
      ...SERVER_MESSAGE_TYPES.map((type) => `server.${type}.json`),
      'client-message.json',
      'server-message.json',
    ];
    expect([...generated.keys()].sort()).toEqual(expected.sort());
  });

  it('are draft-07 documents whose $id is their file name, closed to unknown fields', () => {
    for (const [name, content] of generated) {
      const schema = JSON.parse(content) as Record<string, unknown>;
      expect(schema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
      expect(schema['$id']).toBe(name);
      expect(typeof schema['title']).toBe('string');
      if (!name.endsWith('-message.json')) expect(schema['additionalProperties']).toBe(false);
    }
  });
});
