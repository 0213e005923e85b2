import { register } from 'node:module';

/**
 * Tests resolve with the `source` export condition so that workspace libraries load from their TypeScript
 * sources (see vitest.config.ts). A few third-party packages publish a `source` condition of their own:
 * eventsource, which @openai/agents-realtime pulls in through @openai/agents-core and
 * @modelcontextprotocol/client, points it at a `.ts` file that Node cannot load. This resolve hook drops
 * `source` for imports made from inside node_modules, so such packages load their published builds.
 *
 * Loaded by vitest for every test file (`setupFiles` in vitest.config.ts), before the file is imported.
 */
const RESOLVE_HOOK = `
export async function resolve(specifier, context, nextResolve) {
  if (!context.parentURL?.includes('/node_modules/')) return nextResolve(specifier, context);
  const conditions = context.conditions.filter((condition) => condition !== 'source');
  return nextResolve(specifier, { ...context, conditions });
}`;

register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`);
