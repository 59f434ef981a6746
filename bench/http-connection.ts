/**
 * A load generator's HTTP/1.1 connection: one keep-alive socket, one request at a time, the request written as
 * prebuilt bytes and the answer read only as far as its status and its end. node:http's client (and undici's)
 * spend 0.11–0.12 ms of CPU per request on things a generator does not need (request objects, header checks,
 * streams), and on the 2 cores that the server, PostgreSQL and the generator share, that is a tenth of the
 * machine taken from the server; what wrk and autocannon do instead, this does for bench:load.
 */
import net from 'node:net';

export type Headers = Record<string, string>;

/** The bytes of one request: request line, headers (with Host and Content-Length), body. */
export function requestBytes(method: string, path: string, headers: Headers, body?: string): Buffer {
  const content = body === undefined ? undefined : Buffer.from(body);
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  if (content) lines.push(`Content-Length: ${content.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return content ? Buffer.concat([head, content]) : head;
}

const headerEnd = Buffer.from('\r\n\r\n');
const lineEnd = Buffer.from('\r\n');

/**
 * What the bytes received so far say of the answer: null while its head is incomplete; else its status and either
 * its whole length (Content-Length, or no body) or, for a chunked body, whether it is complete (`length` -1 until).
 */
function readAnswer(data: Buffer): { status: number; length: number } | null {
  const head = data.indexOf(headerEnd);
  if (head < 0) return null;
  const text = data.toString('latin1', 0, head);
  const status = Number(text.slice(9, 12));
  const length = /\r\ncontent-length: *(\d+)/i.exec(text);
  if (length) return { status, length: head + 4 + Number(length[1]) };
  if (!/\r\ntransfer-encoding: *chunked/i.test(text)) return { status, length: head + 4 }; // 204, 304: no body
  for (let at = head + 4; ; ) {
    const sizeEnd = data.indexOf(lineEnd, at);
    if (sizeEnd < 0) return { status, length: -1 };
    const size = Number.parseInt(data.toString('latin1', at, sizeEnd), 16);
    const next = sizeEnd + 2 + size + 2;
    if (data.length < next) return { status, length: -1 };
    if (size === 0) return { status, length: next };
    at = next;
  }
}

export class HttpConnection {
  private readonly socket: net.Socket;
  private received: Buffer = Buffer.alloc(0);
  private receivedBytes = 0;
  /** The length of the answer being read, once its head says it (-1 before). */
  private expectedBytes = -1;
  private status = 0;
  private waiting: { resolve: (status: number) => void; reject: (error: Error) => void } | null = null;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  /** Sends one request; resolves with the answer's status once all of it arrived. */
  send(request: Buffer): Promise<number> {
    if (this.waiting) throw new Error('one request at a time');
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /** Chunks of the answer so far are kept only until its length is known; then only counted. */
  private read(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    if (this.expectedBytes < 0) {
      this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
      const answer = readAnswer(this.received);
      if (!answer || answer.length < 0) return;
      this.status = answer.status;
      this.expectedBytes = answer.length;
      this.received = Buffer.alloc(0);
    }
    if (this.receivedBytes < this.expectedBytes || !this.waiting) return;
    // One request at a time: an answer's end is the end of what was received.
    const { resolve } = this.waiting;
    this.waiting = null;
    this.receivedBytes = 0;
    this.expectedBytes = -1;
    resolve(this.status);
  }

  private fail(error: Error): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(error);
  }
}
