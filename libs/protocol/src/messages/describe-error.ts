import type { TSchema } from '@sinclair/typebox';
import { type ValueError, type ValueErrorIterator, ValueErrorType } from '@sinclair/typebox/errors';
import { ruleOf } from './fields.js';

/**
 * Turns TypeBox validation errors into one message a client developer can act on: the field as a dotted
 * path and the rule it broke ("session_update.temperature: must be between 0.6 and 1.2"). Runs only on
 * the failure path.
 */

/** A field path (dotted, `undefined` for the message itself) and the rule it broke ("must …"). */
export interface FieldProblem {
  readonly field: string | undefined;
  readonly rule: string;
}

// Errors are produced lazily; a hostile object with thousands of unknown keys must not make us walk
// them all just to report one.
const MAX_ERRORS_SCANNED = 16;
const MAX_SEGMENT_CHARS = 64;

/** Describes the most useful of the errors TypeBox reports for a rejected value. */
export function describeErrors(errors: ValueErrorIterator): FieldProblem {
  const error = pickError(errors);
  return error === undefined ? { field: undefined, rule: 'is not a valid message' } : describe(error);
}

function pickError(errors: ValueErrorIterator): ValueError | undefined {
  let first: ValueError | undefined;
  let scanned = 0;
  for (const error of errors) {
    // An unknown field explains a missing one when a field is sent at the wrong nesting level, and
    // names what the client actually typed, so it wins over the "is required" that comes first.
    if (error.type === ValueErrorType.ObjectAdditionalProperties) return error;
    first ??= error;
    if (++scanned >= MAX_ERRORS_SCANNED) break;
  }
  return first;
}

function describe(error: ValueError): FieldProblem {
  const field = toDottedPath(error.path);
  const { schema } = error;
  switch (error.type) {
    case ValueErrorType.Union:
      return describeUnion(error);
    case ValueErrorType.ObjectAdditionalProperties:
      return { field, rule: `is not a known field${misplacedHint(schema, error.path)}` };
    case ValueErrorType.ObjectRequiredProperty:
      return { field, rule: 'is required' };
    case ValueErrorType.Object:
      return { field, rule: 'must be an object' };
    case ValueErrorType.String:
      return { field, rule: 'must be a string' };
    case ValueErrorType.Number:
      // JSON cannot spell NaN, but 1e999 parses to Infinity.
      return { field, rule: 'must be a finite number' };
    case ValueErrorType.Integer:
      return { field, rule: 'must be an integer' };
    case ValueErrorType.Boolean:
      return { field, rule: 'must be true or false' };
    case ValueErrorType.Array:
      return { field, rule: 'must be an array' };
    case ValueErrorType.ArrayMaxItems:
      return { field, rule: `must have at most ${schema['maxItems']} items` };
    case ValueErrorType.Literal:
      return { field, rule: `must be ${JSON.stringify(schema['const'])}` };
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
      return { field, rule: rangeRule(schema) };
    case ValueErrorType.StringMinLength:
      return {
        field,
        rule:
          schema['minLength'] === 1
            ? 'must not be empty'
            : `must be at least ${schema['minLength']} characters`,
      };
    case ValueErrorType.StringMaxLength:
      return { field, rule: `must be at most ${schema['maxLength']} characters` };
    case ValueErrorType.StringPattern:
      return { field, rule: ruleOf(schema) ?? `must match the pattern ${schema['pattern']}` };
    default:
      return { field, rule: ruleOf(schema) ?? `is invalid (${error.message})` };
  }
}

function describeUnion(error: ValueError): FieldProblem {
  const variants = (error.schema['anyOf'] ?? []) as TSchema[];
  const { value } = error;
  if (isPlainObject(value)) {
    const objects = variants.flatMap((variant, index) => (variant['type'] === 'object' ? [index] : []));
    // Discriminated union of objects, maybe beside non-objects (conversation_item_input; null, server VAD
    // or semantic VAD): judge the value by the variant its `type` selects, or report the `type` itself.
    const tags: unknown[] = objects.map((index) => variants[index]!['properties']?.['type']?.['const']);
    if (objects.length > 1 && tags.every((candidate) => typeof candidate === 'string')) {
      const tag: unknown = value['type'];
      const at = tags.indexOf(tag as string);
      if (at !== -1) return describeVariant(error, objects[at]!);
      const field = toDottedPath(`${error.path}/type`);
      if (tag === undefined) return { field, rule: 'is required' };
      return { field, rule: `must be one of ${tags.join(', ')}` };
    }
    // One object variant among non-objects (e.g. null or noise reduction settings): its errors are the
    // precise ones.
    if (objects.length === 1) return describeVariant(error, objects[0]!);
  }
  return { field: toDottedPath(error.path), rule: ruleOf(error.schema) ?? 'has no allowed form' };
}

function describeVariant(error: ValueError, index: number): FieldProblem {
  const nested = error.errors[index];
  const picked = nested === undefined ? undefined : pickError(nested);
  return picked === undefined ? { field: toDottedPath(error.path), rule: 'is invalid' } : describe(picked);
}

/** For an unknown key, names where it would have been valid: `voice` belongs in `session_update`. */
function misplacedHint(objectSchema: TSchema, path: string): string {
  const key = decodeSegment(path.slice(path.lastIndexOf('/') + 1));
  const properties = (objectSchema['properties'] ?? {}) as Record<string, TSchema>;
  for (const [name, property] of Object.entries(properties)) {
    const shapes = (property['anyOf'] ?? [property]) as TSchema[];
    if (shapes.some((shape) => Object.hasOwn(shape['properties'] ?? {}, key))) {
      const parent = toDottedPath(path.slice(0, path.lastIndexOf('/')));
      const where = parent === undefined ? name : `${parent}.${name}`;
      return ` (it belongs inside ${where})`;
    }
  }
  return '';
}

function rangeRule(schema: TSchema): string {
  const kind = schema['type'] === 'integer' ? 'an integer' : 'a number';
  const min = schema['minimum'] as number | undefined;
  const max = schema['maximum'] as number | undefined;
  if (min !== undefined && max !== undefined) {
    return kind === 'an integer'
      ? `must be an integer from ${min} to ${max}`
      : `must be between ${min} and ${max}`;
  }
  return min !== undefined ? `must be ${kind} ≥ ${min}` : `must be ${kind} ≤ ${max}`;
}

/** `/session_update/voice` → `session_update.voice`; the root → `undefined`. Long keys are cut short. */
export function toDottedPath(pointer: string): string | undefined {
  if (pointer === '') return undefined;
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => {
      const key = decodeSegment(segment);
      return key.length > MAX_SEGMENT_CHARS ? `${key.slice(0, MAX_SEGMENT_CHARS)}…` : key;
    })
    .join('.');
}

function decodeSegment(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
