import net from 'node:net';

/** What a server answered to a raw upgrade request: 101 (the socket is then dropped) or a refusal. */
export interface RawUpgradeReply {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The refusal's body; empty for 101. */
  body: string;
}

export interface RawUpgradeOptions {
  path: string;
  headers?: Record<string, string>;
  /** Bytes sent before the request (a PROXY protocol header). */
  preamble?: Buffer;
  /** Local address to connect from (any 127.x.y.z on Linux), to appear as another client. */
  localAddress?: string;
}

/**
 * A WebSocket upgrade over a raw TCP socket to 127.0.0.1, so a test can send any header or preamble, bind a
 * local address, and read a refusal's status, headers and body, which WebSocket clients hide.
 */
export function rawUpgrade(port: number, opts: RawUpgradeOptions): Promise<RawUpgradeReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: opts.localAddress });
    let received = Buffer.alloc(0);
    const finish = (reply: RawUpgradeReply) => {
      socket.destroy();
      resolve(reply);
    };
    socket.on('connect', () => {
      const lines = [
        `GET ${opts.path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      ];
      const request = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
      socket.write(opts.preamble ? Buffer.concat([opts.preamble, request]) : request);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...headerLines] = received.subarray(0, end).toString().split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const status = Number(statusLine.split(' ')[1]);
      const length = Number(headers['content-length'] ?? 0);
      const body = received.subarray(end + 4);
      if (status === 101) finish({ status, headers, body: '' });
      else if (body.length >= length) finish({ status, headers, body: body.subarray(0, length).toString() });
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed before a reply: ${received.toString().slice(0, 80)}`)));
  });
}
