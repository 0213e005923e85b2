import { describe, expect, it } from 'vitest';
import {
  CLIENT_MESSAGE_TYPES,
  CLIENT_MESSAGES,
  CLOSE_CODES,
  DEFAULT_FRAME_LIMITS,
  ERROR_CODES,
  ErrorCode,
  MAX_INSTRUCTIONS_CHARS,
  MAX_OUTPUT_TOKENS,
  MAX_TEXT_CHARS,
  NOTICE_CODES,
  parseClientFrame,
  SERVER_MESSAGE_TYPES,
  SERVER_MESSAGES,
  VOICES,
  validateServerMessage,
} from '../src/index.js';
import { readRepoFile } from './helpers.js';

/**
 * docs/protocol.md is the human-readable contract. Convention (stated in the doc): every ```json block
 * is a complete message; blocks under "## Client → server messages" are requests, blocks under
 * "## Server → client messages" are responses, and each block's type is the one its "### `type`" heading
 * names. Tables are checked against the code registries, so the doc cannot drift from the code.
 */
interface Block {
  readonly section: string;
  readonly heading: string;
  readonly info: string;
  readonly body: string;
  readonly line: number;
}

interface Doc {
  readonly blocks: Block[];
  /** `###` headings per `##` section. */
  readonly headings: Map<string, string[]>;
  /** Table rows (cells, trimmed) per `##` section. */
  readonly rows: Map<string, string[][]>;
}

function parseDoc(markdown: string): Doc {
  const blocks: Block[] = [];
  const headings = new Map<string, string[]>();
  const rows = new Map<string, string[][]>();
  let section = '';
  let heading = '';
  let fence: { info: string; line: number; lines: string[] } | undefined;
  markdown.split('\n').forEach((text, index) => {
    if (fence !== undefined) {
      if (text.startsWith('```')) {
        blocks.push({ section, heading, info: fence.info, body: fence.lines.join('\n'), line: fence.line });
        fence = undefined;
      } else {
        fence.lines.push(text);
      }
      return;
    }
    if (text.startsWith('```')) {
      fence = { info: text.slice(3).trim(), line: index + 1, lines: [] };
    } else if (text.startsWith('## ')) {
      section = text.slice(3).trim();
      heading = '';
    } else if (text.startsWith('### ')) {
      heading = text.slice(4).trim();
      headings.set(section, [...(headings.get(section) ?? []), heading]);
    } else if (text.startsWith('|') && !/^\|[\s|:-]+\|$/.test(text)) {
      const cells = text
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim());
      rows.set(section, [...(rows.get(section) ?? []), cells]);
    }
  });
  return { blocks, headings, rows };
}

const CLIENT_SECTION = 'Client → server messages';
const SERVER_SECTION = 'Server → client messages';

/** "`session.update` (seed)" → ['session.update', 'seed']. */
function typeHeading(heading: string): [type: string, origin: string] {
  const match = /^`([^`]+)` \((seed|extension)\)$/.exec(heading);
  if (match === null) throw new Error(`heading does not follow "\`type\` (seed|extension)": ${heading}`);
  return [match[1]!, match[2]!];
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, '');
const yesNo = (cell: string) => {
  if (cell !== 'yes' && cell !== 'no') throw new Error(`expected yes or no, got ${cell}`);
  return cell === 'yes';
};

describe('docs/protocol.md', () => {
  const doc = parseDoc(readRepoFile('docs/protocol.md'));
  const jsonBlocks = doc.blocks.filter((block) => block.info === 'json');

  it('has JSON examples, all inside the two message sections', () => {
    expect(jsonBlocks.length).toBeGreaterThan(SERVER_MESSAGE_TYPES.length + CLIENT_MESSAGE_TYPES.length);
    for (const block of jsonBlocks) {
      expect([CLIENT_SECTION, SERVER_SECTION], `json block at line ${block.line}`).toContain(block.section);
    }
  });

  it('every JSON example validates as the message its heading names', () => {
    for (const block of jsonBlocks) {
      const where = `json block at line ${block.line}`;
      const [type] = typeHeading(block.heading);
      const result =
        block.section === CLIENT_SECTION
          ? parseClientFrame(block.body)
          : validateServerMessage(JSON.parse(block.body));
      if (!result.ok) throw new Error(`${where}: ${result.error.code}: ${result.error.message}`);
      expect(result.message.type, where).toBe(type);
    }
  });

  it('documents every request and response type once, marked seed or extension, with an example', () => {
    const check = (section: string, registry: Record<string, { seed: boolean }>) => {
      const documented = (doc.headings.get(section) ?? []).map(typeHeading);
      expect(documented.map(([type]) => type).sort()).toEqual(Object.keys(registry).sort());
      for (const [type, origin] of documented) {
        expect(origin, type).toBe(registry[type]!.seed ? 'seed' : 'extension');
        const examples = jsonBlocks.filter(
          (block) => block.section === section && typeHeading(block.heading)[0] === type,
        );
        expect(examples.length, `examples of ${type}`).toBeGreaterThan(0);
      }
    };
    check(CLIENT_SECTION, CLIENT_MESSAGES);
    check(SERVER_SECTION, SERVER_MESSAGES);
  });

  it('lists every error code with its HTTP status and retry flag', () => {
    const rows = (doc.rows.get('Error codes') ?? []).filter(([code]) => code?.startsWith('`'));
    expect(rows.map(([code]) => unquote(code!))).toEqual([...ERROR_CODES]);
    for (const [code, status, retry] of rows) {
      const spec = ErrorCode[unquote(code!) as keyof typeof ErrorCode];
      expect(Number(status), code).toBe(spec.httpStatus);
      expect(yesNo(retry!), code).toBe(spec.retryable);
    }
  });

  it('lists every close code with its name and reconnect semantics', () => {
    const rows = (doc.rows.get('Close codes') ?? []).filter(([code]) => /^\d+$/.test(code ?? ''));
    const specs = Object.entries(CLOSE_CODES);
    expect(rows.map(([code]) => Number(code))).toEqual(specs.map(([, spec]) => spec.code));
    rows.forEach(([, name, reconnect, backoff, resume], index) => {
      const [expectedName, spec] = specs[index]!;
      expect(name).toBe(expectedName);
      expect([yesNo(reconnect!), yesNo(backoff!), yesNo(resume!)], name).toEqual([
        spec.reconnect,
        spec.backoff,
        spec.resume,
      ]);
    });
  });

  it('lists every notice code', () => {
    const rows = (doc.rows.get(SERVER_SECTION) ?? []).filter(([code]) =>
      NOTICE_CODES.some((c) => code === `\`${c}\``),
    );
    expect(rows.map(([code]) => unquote(code!))).toEqual([...NOTICE_CODES]);
  });

  it('states the limits and value rules the code enforces', () => {
    const limits = new Map((doc.rows.get('Limits') ?? []).map(([name, value]) => [name, value ?? '']));
    const n = (value: number) => value.toLocaleString('en-US');
    expect(limits.get('frame size (UTF-8 bytes)')).toBe(n(DEFAULT_FRAME_LIMITS.maxFrameBytes));
    expect(limits.get('decoded audio per message')).toContain(
      `${n(DEFAULT_FRAME_LIMITS.maxAudioBytes)} bytes`,
    );
    expect(limits.get('`instructions`')).toBe(`${n(MAX_INSTRUCTIONS_CHARS)} characters`);
    expect(limits.get('`text`')).toBe(`${n(MAX_TEXT_CHARS)} characters`);
    expect(limits.get('`max_response_output_tokens`')).toBe(String(MAX_OUTPUT_TOKENS));

    const fieldRules = new Map(
      (doc.rows.get(CLIENT_SECTION) ?? []).map(([field, rule]) => [field, rule ?? '']),
    );
    const voiceRule = fieldRules.get('`voice`') ?? '';
    expect(
      voiceRule
        .split('.')[0]!
        .match(/`[a-z]+`/g)
        ?.map(unquote),
    ).toEqual([...VOICES]);
  });
});
