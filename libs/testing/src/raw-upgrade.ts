import net from 'node:net';

/** What a server answered to a raw upgrade request: 101 (the socket is then dropped) or a refusal. */
export interface RawUpgradeReply {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The refusal's body; empty for 101. */
  body: string;
  /**
   * With {@link RawUpgradeOptions.readFirstFrame}, after a 101: the payload of the server's first WebSocket
   * frame, or `undefined` when the server closed the connection before sending one.
   */
  firstFrame?: string | undefined;
}

export interface RawUpgradeOptions {
  path: string;
  headers?: Record<string, string>;
  /** Bytes sent before the request (a PROXY protocol header). */
  preamble?: Buffer;
  /** Local address to connect from (any 127.x.y.z on Linux), to appear as another client. */
  localAddress?: string;
  /** The `Connection` header. @defaultValue 'Upgrade' */
  connection?: string;
  /** After a 101, wait for the server's first frame (or its close) instead of dropping the socket at once. */
  readFirstFrame?: boolean;
}

/**
 * A WebSocket upgrade over a raw TCP socket to 127.0.0.1, so a test can send any header or preamble, bind a
 * local address, and read a refusal's status, headers and body, which WebSocket clients hide.
 */
export function rawUpgrade(port: number, opts: RawUpgradeOptions): Promise<RawUpgradeReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: opts.localAddress });
    let received = Buffer.alloc(0);
    let upgraded: RawUpgradeReply | undefined;
    const finish = (reply: RawUpgradeReply) => {
      socket.destroy();
      resolve(reply);
    };
    socket.on('connect', () => {
      const lines = [
        `GET ${opts.path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        `Connection: ${opts.connection ?? 'Upgrade'}`,
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      ];
      const request = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
      socket.write(opts.preamble ? Buffer.concat([opts.preamble, request]) : request);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (upgraded) {
        const frame = serverFrame(received);
        if (frame !== undefined) finish({ ...upgraded, firstFrame: frame });
        return;
      }
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
      if (status === 101 && opts.readFirstFrame) {
        upgraded = { status, headers, body: '' };
        received = received.subarray(end + 4);
        const frame = serverFrame(received);
        if (frame !== undefined) finish({ ...upgraded, firstFrame: frame });
      } else if (status === 101) finish({ status, headers, body: '' });
      else if (body.length >= length) finish({ status, headers, body: body.subarray(0, length).toString() });
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (upgraded) resolve({ ...upgraded, firstFrame: undefined });
      else reject(new Error(`closed before a reply: ${received.toString().slice(0, 80)}`));
    });
  });
}

/** The payload of a complete unmasked server frame at the start of `bytes`, as text; undefined until it is all there. */
function serverFrame(bytes: Buffer): string | undefined {
  if (bytes.length < 2) return undefined;
  let length = bytes[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (bytes.length < offset + length) return undefined;
  return bytes.subarray(offset, offset + length).toString();
}
