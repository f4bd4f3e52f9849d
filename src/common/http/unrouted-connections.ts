import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * For the shutdown: returns what closes the server's connections that carry no request yet. Node's
 * `closeIdleConnections()` leaves a connection whose request is still arriving (headers half sent by a
 * slow or stalled client: it is "sending a request"), and such a connection held the shutdown until
 * its 20 s cap, which exited 1. A request whose head has arrived has its answer attached to the socket
 * (`_httpMessage`, set in the same tick as the head is parsed) and is left to finish.
 */
export function unroutedConnectionsCloser(server: Server): () => void {
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return () => {
    for (const socket of open) {
      if (!(socket as Socket & { _httpMessage?: unknown })._httpMessage) socket.destroy();
    }
  };
}
