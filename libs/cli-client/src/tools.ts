// `--tools FILE`: function tools to declare in the session and canned answers to the model's calls.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** A function tool as the protocol declares it (docs/protocol.md, Function tools). */
export interface ToolDeclaration {
  type: 'function';
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

/** A parsed tools file. */
export interface ToolsConfig {
  /** Sent as `session_update.tools`. */
  tools: ToolDeclaration[];
  /** Sent as `session_update.tool_choice` when the file has one. */
  toolChoice?: unknown;
  /** Tool name → the output sent for each call of it. */
  answers: Map<string, string>;
  /** The file's name, for messages. */
  source: string;
}

export const TOOLS_FILE_HELP = `A tools file is JSON:
  {
    "tools": [ { "type": "function", "name": "get_weather", "description": "…",
                 "parameters": { "type": "object", "properties": { "city": { "type": "string" } } } } ],
    "tool_choice": "auto",
    "answers": { "get_weather": { "temperature_c": 21, "sky": "clear" } }
  }
  "tools" is sent in the session update ("tool_choice" too, when present). Each call of a tool is answered
  with its entry in "answers": a string as is, any other JSON value as JSON text. A call of a tool with no
  answer gets {"error":"no answer for <name> in <file>"}.`;

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The protocol's limit on a function output. */
const MAX_OUTPUT_CHARS = 65_536;

/** A tools file that cannot be used; the message names the file and the field. */
export class ToolsFileError extends Error {
  override readonly name = 'ToolsFileError';
}

/** Checks a tools file's content; `source` names it in errors and error outputs. */
export function parseToolsConfig(json: unknown, source: string): ToolsConfig {
  const fail = (where: string, what: string): never => {
    throw new ToolsFileError(`${source}: ${where}: ${what}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    fail('(top level)', 'must be an object');
  const file = json as Record<string, unknown>;
  for (const key of Object.keys(file)) {
    if (!['tools', 'tool_choice', 'answers'].includes(key)) {
      fail(key, 'unknown field (expected "tools", "tool_choice", "answers")');
    }
  }
  if (!Array.isArray(file.tools) || file.tools.length === 0) fail('tools', 'must be a non-empty array');
  const tools = file.tools as unknown[];
  const names = new Set<string>();
  tools.forEach((tool, i) => {
    const t = tool as Record<string, unknown>;
    if (typeof tool !== 'object' || tool === null || Array.isArray(tool))
      fail(`tools[${i}]`, 'must be an object');
    if (t.type !== 'function') fail(`tools[${i}].type`, 'must be "function"');
    if (typeof t.name !== 'string' || !TOOL_NAME.test(t.name)) {
      fail(`tools[${i}].name`, 'must be 1-64 characters from a-z, A-Z, 0-9, "_" and "-"');
    }
    if (names.has(t.name as string)) fail(`tools[${i}].name`, `"${String(t.name)}" is declared twice`);
    names.add(t.name as string);
  });
  const answers = new Map<string, string>();
  if (file.answers !== undefined) {
    if (typeof file.answers !== 'object' || file.answers === null || Array.isArray(file.answers)) {
      fail('answers', 'must be an object of tool name → output');
    }
    for (const [name, value] of Object.entries(file.answers as Record<string, unknown>)) {
      if (!names.has(name)) fail(`answers.${name}`, 'no tool of that name in "tools"');
      const output = typeof value === 'string' ? value : JSON.stringify(value);
      if (output.length > MAX_OUTPUT_CHARS) {
        fail(`answers.${name}`, `is ${output.length} characters as an output; at most ${MAX_OUTPUT_CHARS}`);
      }
      answers.set(name, output);
    }
  }
  return {
    tools: tools as ToolDeclaration[],
    ...(file.tool_choice === undefined ? {} : { toolChoice: file.tool_choice }),
    answers,
    source,
  };
}

/** Reads and checks a tools file. */
export async function loadToolsFile(file: string): Promise<ToolsConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ToolsFileError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ToolsFileError(`${file}: not JSON: ${(err as Error).message}`);
  }
  return parseToolsConfig(json, path.basename(file));
}

/** The output for a call of `name`: the file's answer, or an error output when it has none. */
export function answerCall(
  config: ToolsConfig | undefined,
  name: string,
): { output: string; error: boolean } {
  const answer = config?.answers.get(name);
  if (answer !== undefined) return { output: answer, error: false };
  const where = config ? `in ${config.source}` : '(the client was started without --tools)';
  return { output: JSON.stringify({ error: `no answer for ${name} ${where}` }), error: true };
}
