import type { TSchema } from '@sinclair/typebox';
import { CLIENT_MESSAGE_TYPES, CLIENT_MESSAGES, ClientMessageSchema } from './messages/client.js';
import { SERVER_MESSAGE_TYPES, SERVER_MESSAGES, ServerMessageSchema } from './messages/server.js';
import { PROTOCOL_VERSION } from './version.js';

/**
 * The published JSON Schema files, generated from the same TypeBox schemas the validator is compiled
 * from. `scripts/write-schemas.ts` writes them to `schemas/`; a test regenerates them in memory and
 * fails if the committed files differ, so they cannot drift from the code.
 *
 * Dialect: draft-07, which is what TypeBox emits (tuples use `items` + `additionalItems`). Each file is
 * self-contained (no `$ref` between files) so any validator can load one file alone.
 */
const DIALECT = 'http://json-schema.org/draft-07/schema#';

/** File name → file content (pretty-printed JSON with a trailing newline), in a stable order. */
export function jsonSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const add = (file: string, title: string, schema: TSchema, description?: string) => {
    // The rest spread copies TypeBox's symbol keys too, but JSON.stringify drops them.
    const { description: own, ...rest } = schema;
    const document = { $schema: DIALECT, $id: file, title, description: description ?? own, ...rest };
    files.set(file, `${JSON.stringify(document, null, 2)}\n`);
  };
  for (const type of CLIENT_MESSAGE_TYPES) {
    const { schema, seed } = CLIENT_MESSAGES[type];
    add(`client.${type}.json`, `Client message "${type}"`, schema, describe(schema, seed));
  }
  for (const type of SERVER_MESSAGE_TYPES) {
    const { schema, seed } = SERVER_MESSAGES[type];
    add(`server.${type}.json`, `Server message "${type}"`, schema, describe(schema, seed));
  }
  add('client-message.json', `Any client message (protocol ${PROTOCOL_VERSION})`, ClientMessageSchema);
  add('server-message.json', `Any server message (protocol ${PROTOCOL_VERSION})`, ServerMessageSchema);
  return files;
}

function describe(schema: TSchema, seed: boolean): string {
  const origin = seed ? 'Seed protocol message.' : 'Extension to the seed protocol.';
  return typeof schema['description'] === 'string' ? `${origin} ${schema['description']}` : origin;
}
