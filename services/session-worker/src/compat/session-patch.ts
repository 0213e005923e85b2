/** A provider `session` object (or part of one), as JSON. */
export type SessionObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is SessionObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Applies a partial `session.update` to the session the provider holds, as the provider does: nested objects
 * merge key by key, anything else (arrays such as `tools`, `null` such as `turn_detection: null`, scalars)
 * replaces. Returns a new object; neither input is changed.
 */
export function mergeSessionPatch(base: SessionObject, patch: SessionObject): SessionObject {
  const out: SessionObject = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    out[key] = isPlainObject(value) && isPlainObject(current) ? mergeSessionPatch(current, value) : value;
  }
  return out;
}

/**
 * Whether the session transcribes the user's speech (`audio.input.transcription` set to an object): only then
 * does a committed user audio item get a transcript the history can keep.
 */
export function transcribesInput(session: SessionObject): boolean {
  const audio = session.audio;
  if (!isPlainObject(audio) || !isPlainObject(audio.input)) return false;
  return isPlainObject(audio.input.transcription);
}

/** Whether the provider detects turns itself (GA default: server VAD, unless `turn_detection` is null). */
export function detectsTurns(session: SessionObject): boolean {
  const audio = session.audio;
  if (!isPlainObject(audio) || !isPlainObject(audio.input)) return true;
  return audio.input.turn_detection !== null;
}
