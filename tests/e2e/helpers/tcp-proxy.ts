// A TCP relay on a loopback port, so a test can cut live connections the way a network failure does: no
// close frame, no FIN to the application, just a dead socket (the client sees 1006).
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections relayed so far. */
  readonly accepted: number;
  /** Currently open relayed connections. */
  readonly open: number;
  /** Destroys every relayed connection on both sides; new connections still go through. */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: target.host ?? '127.0.0.1', port: target.port });
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    cutAll() {
      for (const { client, upstream } of [...pairs]) {
        // resetAndDestroy sends RST where available: the peer gets no orderly shutdown.
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      pairs.clear();
    },
    close: async () => {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
