/**
 * The last server frames of a session, kept so a client that reconnects (resume) gets what it missed
 * without duplicates. Bounded by bytes; the oldest frames go first.
 */
export class OutboundBuffer {
  private seqs: number[] = [];
  private payloads: Array<string | Buffer> = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  push(seq: number, payload: string | Buffer): void {
    if (this.maxBytes <= 0) return;
    this.seqs.push(seq);
    this.payloads.push(payload);
    this.bytes += payload.length;
    while (this.bytes > this.maxBytes && this.head < this.seqs.length) {
      this.bytes -= this.payloads[this.head]!.length;
      this.payloads[this.head] = '';
      this.head++;
    }
    if (this.head > 512 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.payloads = this.payloads.slice(this.head);
      this.head = 0;
    }
  }

  /** Frames with seq > `after`, oldest first, and whether older frames the client missed were evicted. */
  since(after: number): { frames: Array<[number, string | Buffer]>; complete: boolean } {
    const frames: Array<[number, string | Buffer]> = [];
    for (let i = this.head; i < this.seqs.length; i++) {
      if (this.seqs[i]! > after) frames.push([this.seqs[i]!, this.payloads[i]!]);
    }
    // Complete when nothing after `after` was evicted: the first kept frame directly follows what the
    // client has, or nothing was ever evicted.
    const oldestKept = this.seqs[this.head];
    const complete = this.head === 0 || oldestKept === undefined || oldestKept <= after + 1 || after === 0;
    return { frames, complete };
  }
}
