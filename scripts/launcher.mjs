#!/usr/bin/env node
// The project's entry point for people and CI: `npm start`, `npm test`, `npm run bench`, `npm run client`.
// Node built-ins only, because it runs `npm ci` itself on a fresh clone.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCommand, testCommand } from './lib/checks.mjs';
import { ensureDependencies } from './lib/deps.mjs';
import { run, TS_NODE_ARGS } from './lib/proc.mjs';
import { startCommand } from './lib/start.mjs';
import { fail } from './lib/ui.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `realtime-voice launcher

Usage: npm <command> [-- args]

Commands
  npm start               Start Redis (if needed), status-api, worker(s), gateway and demo page; a service that
                          dies is restarted; Ctrl-C stops all
  npm test [-- args]      Typecheck, lint, then vitest (args go to vitest: npm test -- libs/protocol)
  npm run bench [-- args] Run bench/run.ts, or every libs/*/bench/*.bench.ts and services/*/bench/*.bench.ts
  npm run client -- ...   CLI test client (npm run client -- --help)
  node scripts/launcher.mjs help   This text

Environment read by the launcher
  REDIS_URL               Redis to use; unset: 127.0.0.1:6379 if it answers, else a private redis-server
  RTV_WORKERS             Session workers to start (default 1); worker-<i> gets admin port 9200+i
  RTV_WORKER_ADMIN_PORT_BASE  Workers' admin ports start above it (default 9200)
  RTV_STATUS_PORT         status-api port (default 8090)
  RTV_GATEWAY_PORT        Gateway WebSocket/HTTP port (default 8000)
  RTV_GATEWAY_ADMIN_PORT  Gateway admin port: /metrics, /readyz (default 9100)
  RTV_DEMO_PORT           Demo page port (default 8080); RTV_DEMO_GATEWAY_URL overrides the gateway it uses
  RTV_READY_TIMEOUT_MS    How long each service may take to answer /readyz (default 60000)
  OPENAI_API_KEY          Use OpenAI Realtime; unset: the built-in local engine
  NO_COLOR / FORCE_COLOR  Turn coloured output off / on
Every other variable is passed through to the services (see README.md, Configuration).
`;

/** @param {string[]} argv */
async function main(argv) {
  const [command = 'help', ...args] = argv;
  switch (command) {
    case 'start':
      await ensureDependencies(root);
      return startCommand(root);
    case 'test':
      await ensureDependencies(root);
      return testCommand(root, args);
    case 'bench':
      await ensureDependencies(root);
      return benchCommand(root, args);
    case 'client': {
      await ensureDependencies(root);
      const entry = 'libs/cli-client/src/main.ts';
      if (!existsSync(path.join(root, entry))) throw new Error(`${entry} is missing`);
      return run(process.execPath, [...TS_NODE_ARGS, entry, ...args], { cwd: root });
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(HELP);
      throw new Error(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    fail(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
