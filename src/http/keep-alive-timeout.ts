import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Node closes a keep-alive connection when it has been idle for keepAliveTimeout (plus a second), and it decides
 * that in the timers phase of the event loop, before the sockets are read. A request its client had already sent on
 * that connection (the client still held it to be open: its own clock runs late on a busy machine) is then unread
 * data on a closed socket, and the client gets a reset mid-upload (ECONNRESET): seen with 19 and 21 MB C-CDA imports
 * on a loaded machine. Here a timed-out connection is closed only after the sockets have been read once more
 * (setImmediate runs after the poll phase), and only if nothing arrived on it meanwhile; a request that did arrive
 * is answered as any other, and the connection's timeout starts again after it.
 */
export function closeTimedOutConnectionsOnceIdle(server: Server): void {
  // With a 'timeout' listener Node leaves a timed-out connection to it instead of destroying it at once.
  server.on('timeout', (socket: Socket) => {
    const read = socket.bytesRead;
    setImmediate(() => {
      if (socket.bytesRead === read) socket.destroy();
    });
  });
}
