// `npm run client -- …`: parse, run, exit with the run's code.
import { parseClientArgs, USAGE, UsageError } from './args.js';
import { runClient } from './client.js';

const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

let options: ReturnType<typeof parseClientArgs>;
try {
  options = parseClientArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`rtv-client: ${err.message}\nTry --help.\n`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.exitCode = await runClient(options, {
  out: process.stdout,
  err: process.stderr,
  color,
  live: Boolean(process.stdout.isTTY),
  signal: controller.signal,
});
