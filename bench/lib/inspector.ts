/**
 * A minimal Chrome DevTools Protocol client for the services' `--inspect` port: forces a full garbage
 * collection and reads `process.memoryUsage()` inside the process. RSS alone mixes live objects with garbage
 * nobody has collected yet; after a forced GC the V8 heap says what the connections really keep.
 */
import WebSocket from 'ws';

export interface ProcessMemory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export class Inspector {
  private nextId = 1;
  private readonly waiting = new Map<number, (result: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown };
      if (msg.id === undefined) return;
      this.waiting.get(msg.id)?.(msg.result);
      this.waiting.delete(msg.id);
    });
  }

  /** Attaches to the process listening for the inspector on `port` (`--inspect=127.0.0.1:<port>`). */
  static async connect(port: number): Promise<Inspector> {
    const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(5000) });
    const [target] = (await res.json()) as Array<{ webSocketDebuggerUrl: string }>;
    if (!target) throw new Error(`no inspector target on port ${port}`);
    const ws = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Inspector(ws);
  }

  /** A full, compacting collection of the main isolate. */
  async collectGarbage(): Promise<void> {
    await this.call('HeapProfiler.collectGarbage');
  }

  async memoryUsage(): Promise<ProcessMemory> {
    const result = (await this.call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } };
    return JSON.parse(result.result.value) as ProcessMemory;
  }

  close(): void {
    this.ws.close();
  }

  private call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`inspector ${method} timed out`));
      }, 60_000);
      this.waiting.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }
}
