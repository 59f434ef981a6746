import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Everything after the header block, as sent (chunked encoding not undone). */
  body: string;
}

/**
 * An HTTP/1.1 GET on a raw socket that sends its request and then stops reading: the kernel buffers fill and the
 * server's writes block, as with a client that hangs. readAll() starts reading again and resolves with whatever
 * arrived once the server closes the connection.
 */
export function stalledGet(base: string, path: string, headers: Record<string, string>) {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  const head = Object.entries({ Host: `${hostname}:${port}`, Connection: 'close', ...headers }).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`GET ${path} HTTP/1.1\r\n${head.join('')}\r\n`);
  socket.pause();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  return {
    socket,
    async readAll(): Promise<RawResponse> {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.resume();
      await closed;
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) };
    },
    destroy: () => socket.destroy(),
  };
}
