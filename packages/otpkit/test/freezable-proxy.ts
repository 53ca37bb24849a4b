// A TCP proxy on 127.0.0.1 whose link can freeze: it stops forwarding both
// ways without closing anything, like a stalled network path. Bytes sent into
// a frozen link stay in the kernel's buffers; the far end never sees them.

import { connect, createServer, type Socket } from 'node:net';

interface FreezableProxy {
  port: number;
  /** Stops forwarding on every connection, and on those accepted while frozen. */
  freeze(): void;
  /** Forwards again, starting with whatever waited. */
  thaw(): void;
  /** Closes the listener and drops every connection. */
  close(): void;
}

async function freezableProxy(target: { host: string; port: number }): Promise<FreezableProxy> {
  const sockets = new Set<Socket>();
  let frozen = false;
  // Flowing 'data' handlers, no pipe(): pipe() resumes a source when its destination drains.
  const forward = (from: Socket, to: Socket) => {
    sockets.add(from);
    from.on('data', (chunk) => to.write(chunk));
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => {
      sockets.delete(from);
      to.destroy();
    });
    if (frozen) from.pause();
  };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    freeze() {
      frozen = true;
      for (const socket of sockets) socket.pause();
    },
    thaw() {
      frozen = false;
      for (const socket of sockets) socket.resume();
    },
    close() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

export type { FreezableProxy };
export { freezableProxy };
