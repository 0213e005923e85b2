import net from 'node:net';

/**
 * Ports handed out by {@link freePort} come from below Linux's ephemeral range (32768–60999 by default),
 * so an outgoing connection's local port can never take one, and each test process draws from its own
 * slice, so two test files running side by side never pick the same port. A port picked by the OS
 * (`listen(0)`) is in the ephemeral range and can be handed to another process the moment it is closed,
 * which left a child service bound to nothing and its test failing with ECONNREFUSED.
 */
const RANGE_START = 10_000;
const RANGE_END = 32_000;
const SLICES = 16;
const SLICE_SIZE = Math.floor((RANGE_END - RANGE_START) / SLICES);

/** Which slice this process draws from: the vitest fork's pool id, or the process id outside vitest. */
function sliceIndex(): number {
  const poolId = Number(process.env.VITEST_POOL_ID);
  const seed = Number.isInteger(poolId) && poolId > 0 ? poolId : process.pid;
  return seed % SLICES;
}

const handedOut = new Set<number>();
let cursor = Math.floor(Math.random() * SLICE_SIZE);

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port that nothing listens on, for a process that must be told its port up front (child
 * services, Redis). Prefer listening on port 0 where the code under test allows it. A port is not
 * handed out twice by one process.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const base = RANGE_START + sliceIndex() * SLICE_SIZE;
  for (let tried = 0; tried < SLICE_SIZE; tried++) {
    cursor = (cursor + 1) % SLICE_SIZE;
    const port = base + cursor;
    if (handedOut.has(port)) continue;
    if (await canListen(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port left in ${base}–${base + SLICE_SIZE - 1}`);
}
