/**
 * The OpenAI-compatible route (`/v1/realtime`): intake of client events and errors in the provider's shape.
 * Pure, like the rest of the package.
 */
export {
  type CompatAudioRange,
  type CompatIntakeResult,
  type CompatLimits,
  MAX_COMPAT_EVENT_ID_CHARS,
  MAX_COMPAT_JSON_DEPTH,
  scanCompatAudioAppend,
  validateCompatClientEvent,
} from './client-events.js';
export { type CompatError, compatErrorFor, describeJsonType, encodeCompatError } from './errors.js';
export * from './policy.js';
