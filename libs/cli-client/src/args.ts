// Command-line parsing for the client, kept free of I/O so it can be tested directly.
import { parseArgs } from 'node:util';
import { TOOLS_FILE_HELP } from './tools.js';

export const DEFAULT_BASE_URL = 'ws://127.0.0.1:8000/api/v1/streaming/realtime';
export const DEFAULT_USER = 'cli_user';

export type ClientInput = { kind: 'text'; text: string } | { kind: 'wav'; path: string };

export interface ClientOptions {
  /** Sent in order; each waits for its `response.done` before the next. */
  inputs: ClientInput[];
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Fail a turn whose reply carries neither text nor audio. */
  requireReply: boolean;
  voice?: string;
  language?: string;
  instructions?: string;
  /** A tools file (see `TOOLS_FILE_HELP`): tools for the session and answers to the model's calls. */
  toolsFile?: string;
  /** Send WAV frames as fast as possible instead of in real time. */
  fast: boolean;
  /** Write every received `response.audio` chunk here as a 24 kHz mono WAV. */
  out?: string;
  /** How long to wait for the connection and for each reply's `response.done`. */
  timeoutMs: number;
  /** Print raw server events as JSON lines. */
  json: boolean;
}

export const USAGE = `Usage: npm run client -- [options]

Talks to a realtime-voice gateway: sends text and/or WAV audio, prints the replies, exits 0 after the
last input's response.done (non-zero on error, timeout or connection failure).

Input (repeatable, sent in the order given)
  --text <text>          Send text (conversation.item.input / input_text)
  --wav <file.wav>       Send a PCM16 WAV (any rate/channels; sent as 24 kHz mono 20 ms frames, then 1 s
                         of silence so server VAD ends the turn)
  --fast                 Send WAV frames at once instead of in real time

Connection
  --url <ws-url>         Full WebSocket URL (default ${DEFAULT_BASE_URL}/${DEFAULT_USER})
  --user <id>            User id in the default URL (default ${DEFAULT_USER})
  --token <token>        Send Authorization: Bearer <token> and use the authenticated route
  --token-env <NAME>     As --token, with the token read from the environment variable NAME (keeps it
                         off the command line, e.g. from a Kubernetes Secret)
  --timeout <seconds>    Connect / reply timeout (default 30)

Session (sent as session.update when given)
  --voice <voice>        e.g. alloy
  --language <code>      e.g. en
  --instructions <text>  System instructions
  --tools <file.json>    Function tools for the session and the answers to their calls (format below).
                         Each response.function_call is printed (→ call name(arguments)) and answered
                         from the file once its reply is done (← answer name: output)

Output
  --out <reply.wav>      Write all received audio as a 24 kHz PCM16 mono WAV
  --json                 Print raw server events, one JSON object per line
  --require-reply        Exit 1 when a reply has neither text nor audio (a smoke test of a deployment)
  -h, --help             Show this help

Transcripts of your speech (conversation.item.transcript) are printed as "> you said: …".

${TOOLS_FILE_HELP}

Examples
  npm run client -- --text "Hello, how are you?"
  npm run client -- --wav question.wav --out reply.wav
  npm run client -- --token secret --voice alloy --text "Hi"
  npm run client -- --tools tools.json --text "Call get_weather Paris"
`;

/** A mistake on the command line; the message says what to change. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Builds the endpoint: an explicit `--url` wins; `--token` selects the authenticated route. */
export function resolveUrl({ url, user, token }: { url?: string; user?: string; token?: string }): string {
  if (url) return url;
  if (token) return DEFAULT_BASE_URL;
  return `${DEFAULT_BASE_URL}/${encodeURIComponent(user ?? DEFAULT_USER)}`;
}

/**
 * Parses argv (without node and script). Returns `'help'` when help was asked for. `env` is where
 * `--token-env` looks.
 */
export function parseClientArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): ClientOptions | 'help' {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, tokens } = parsed;
  if (values.help) return 'help';

  // tokens keep the command-line order, so `--wav a.wav --text b` sends the audio first.
  const inputs: ClientInput[] = [];
  for (const token of tokens ?? []) {
    if (token.kind !== 'option' || token.value === undefined) continue;
    if (token.name === 'text') inputs.push({ kind: 'text', text: token.value });
    if (token.name === 'wav') inputs.push({ kind: 'wav', path: token.value });
  }
  if (inputs.length === 0) throw new UsageError('nothing to send: give --text "…" and/or --wav file.wav');
  if (inputs.some((i) => i.kind === 'text' && i.text.trim() === ''))
    throw new UsageError('--text must not be empty');

  const timeoutS = values.timeout === undefined ? 30 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    throw new UsageError(
      `--timeout must be a positive number of seconds (got ${JSON.stringify(values.timeout)})`,
    );
  }
  const token = tokenFrom(values.token, values['token-env'], env);
  const url = resolveUrl({ url: values.url, user: values.user, token });
  if (!/^wss?:\/\//.test(url)) throw new UsageError(`--url must start with ws:// or wss:// (got ${url})`);
  if (values.url && values.user)
    throw new UsageError('--user has no effect with --url: put the user id in the URL');

  return {
    inputs,
    url,
    token,
    requireReply: values['require-reply'] ?? false,
    voice: values.voice,
    language: values.language,
    instructions: values.instructions,
    toolsFile: values.tools,
    fast: values.fast ?? false,
    out: values.out,
    timeoutMs: Math.round(timeoutS * 1000),
    json: values.json ?? false,
  };
}

/** The bearer token: `--token`, or the variable `--token-env` names (which must then hold one). */
function tokenFrom(token: string | undefined, tokenEnv: string | undefined, env: NodeJS.ProcessEnv) {
  if (tokenEnv === undefined) return token;
  if (token !== undefined) throw new UsageError('give --token or --token-env, not both');
  const value = env[tokenEnv]?.trim();
  if (!value) throw new UsageError(`--token-env ${tokenEnv}: the variable is unset or empty`);
  return value;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    tokens: true,
    allowPositionals: false,
    strict: true,
    options: {
      text: { type: 'string', multiple: true },
      wav: { type: 'string', multiple: true },
      fast: { type: 'boolean' },
      out: { type: 'string' },
      url: { type: 'string' },
      user: { type: 'string' },
      token: { type: 'string' },
      'token-env': { type: 'string' },
      'require-reply': { type: 'boolean' },
      voice: { type: 'string' },
      language: { type: 'string' },
      instructions: { type: 'string' },
      tools: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
