import type { ErrorCode } from '@rtv/protocol';

/** A frame with hostile contents, and whether the protocol accepts it. */
export interface HostileValue {
  /** What makes it hostile, for failure messages. */
  readonly note: string;
  readonly json: string;
  /** The protocol accepts it: the gateway must forward it unharmed (and unlogged). */
  readonly valid: boolean;
  /** The codes a refusal may carry, when it is not valid. */
  readonly errors?: readonly ErrorCode[];
}

/**
 * Log and terminal injection, markup, format strings, odd Unicode, duplicate keys, prototype names and
 * extreme numbers: mostly valid frames whose contents try to break whatever handles them downstream.
 */
export const HOSTILE_VALUES: readonly HostileValue[] = [
  { note: 'log injection in text', json: textFrame('line\n{"level":60,"msg":"forged"}\r\n'), valid: true },
  { note: 'terminal escapes in text', json: textFrame('\u001b[2J\u001b]0;pwned\u0007'), valid: true },
  {
    note: 'markup and template syntax',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} is the hostile payload.
    json: textFrame('</script><img src=x onerror=alert(1)>${jndi:ldap://x}'),
    valid: true,
  },
  { note: 'format strings', json: textFrame('%s%s%n%x{0}{{7*7}}'), valid: true },
  { note: 'NUL and bidi overrides', json: textFrame('a\u0000b\u202etxt.exe\u2066\u200b'), valid: true },
  {
    note: 'lone surrogate escapes',
    json: '{"type":"conversation.item.input","conversation_item_input":{"type":"input_text","text":"\\ud800\\udc00\\udfff"}}',
    valid: true,
  },
  { note: 'combining-mark pile', json: textFrame(`Z${'\u0301'.repeat(5000)}`), valid: true },
  {
    note: 'duplicate type, last wins',
    json: '{"type":"ping","type":"session.update","session_update":{}}',
    valid: true,
  },
  {
    note: 'prototype-named event_id',
    json: '{"type":"response.cancel","event_id":"__proto__"}',
    valid: true,
  },
  { note: 'tiny and negative-zero timestamps', json: '{"type":"ping","ping":{"timestamp":-0}}', valid: true },
  { note: 'denormal timestamp', json: '{"type":"ping","ping":{"timestamp":5e-324}}', valid: true },
  {
    note: 'huge timestamp',
    json: '{"type":"ping","ping":{"timestamp":1.7976931348623157e308}}',
    valid: true,
  },
  {
    note: 'timestamp overflowing to Infinity',
    json: '{"type":"ping","ping":{"timestamp":1e400}}',
    valid: false,
    errors: ['invalid_message'],
  },
  {
    note: '__proto__ key',
    json: '{"type":"ping","ping":{"timestamp":1},"__proto__":{"polluted":true}}',
    valid: false,
    errors: ['invalid_message'],
  },
  {
    note: 'constructor as type',
    json: '{"type":"constructor"}',
    valid: false,
    errors: ['unknown_message_type'],
  },
  { note: '__proto__ as type', json: '{"type":"__proto__"}', valid: false, errors: ['unknown_message_type'] },
  { note: 'whitespace-only text', json: textFrame(' \t\n\u3000'), valid: false, errors: ['invalid_message'] },
  {
    note: 'temperature just over the limit',
    json: '{"type":"session.update","session_update":{"temperature":1.2000000000000002}}',
    valid: false,
    errors: ['invalid_message'],
  },
  {
    note: 'event_id of 64 astral characters',
    json: JSON.stringify({ type: 'response.create', event_id: '😀'.repeat(32) }),
    valid: true,
  },
  {
    note: 'BOM before the object',
    json: '\ufeff{"type":"ping","ping":{"timestamp":1}}',
    valid: false,
    errors: ['invalid_json'],
  },
  {
    note: 'audio of one zero sample',
    json: '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"AAA="}}',
    valid: true,
  },
  {
    note: 'audio with whitespace',
    json: '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"AA AA"}}',
    valid: false,
    errors: ['invalid_audio'],
  },
];

/** A `conversation.item.input` text frame carrying `text`. */
export function textFrame(text: string): string {
  return JSON.stringify({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_text', text },
  });
}
