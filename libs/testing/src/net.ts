import net from 'node:net';

/**
 * A TCP port that was free a moment ago. Prefer listening on port 0 where the code under test allows
 * it; this is for processes that must be told their port up front (child services).
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the listening port'));
      });
    });
  });
}
