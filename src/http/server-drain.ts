import type { Server, ServerResponse } from 'node:http';
import net from 'node:net';

/**
 * Draining an HTTP server on shutdown. Node's server.close() stops listening and drops the connections idle at that
 * instant, but a keep-alive connection that is busy goes on taking requests for as long as its client sends them, and
 * "idle" means only that no request has been parsed yet: a request already sent but still unread in the socket
 * (the event loop was busy, as it is with the embedded database) is dropped with it, and its client gets a reset.
 * So, on shutdown: stop listening at once; answer every request in flight, and every request that still arrives on
 * an open connection, with `Connection: close`, which ends that connection after the answer; let idle connections
 * linger a moment (a request already on its way is read and answered) and then close those still idle; and when
 * the grace period is over, cut whatever is left. (Connections the kernel had queued but the server had not taken
 * yet when it stopped listening are reset by the kernel: their clients see a connection error before any answer.)
 */

/** How long an idle keep-alive connection is kept open once draining starts, for a request already on its way. */
export const IDLE_LINGER_MS = 200;

/** How often connections that have gone idle while draining are looked for and closed. */
const IDLE_SWEEP_MS = 100;

/** How a drain ended. */
export interface DrainResult {
  /** Requests still unanswered when the grace period ran out: their connections were cut. */
  readonly cut: number;
}

/** A server's connections, tracked from the start so they can be drained on shutdown. */
export interface ServerDrain {
  /** Stops accepting, lets what is in flight finish, and resolves once every connection ended or graceMs passed. */
  drain(graceMs: number): Promise<DrainResult>;
}

/** Tracks the requests in flight on this server; call before it answers its first request. */
export function trackForDrain(server: Server): ServerDrain {
  const inFlight = new Set<ServerResponse>();
  let draining: Promise<DrainResult> | undefined;
  // Prepended, so the mark is set before the app's handler can answer.
  server.prependListener('request', (_req, res: ServerResponse) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    if (draining) lastOnItsConnection(res);
  });

  const drain = async (graceMs: number): Promise<DrainResult> => {
    for (const res of inFlight) lastOnItsConnection(res);
    const closed = new Promise<void>((resolve) => {
      // net.Server's own close: stops listening at once, and its callback runs when the last connection has ended.
      // http.Server's close would also destroy every idle connection right now, unread requests and all. (Its one other
      // step, stopping the unref'd timer that checks request timeouts, is left undone: the timer finds no connection.)
      if (server.listening) net.Server.prototype.close.call(server, () => resolve());
      else resolve();
    });
    // Each sweep runs after a poll of the sockets (setImmediate), so a request that arrived while the event loop was
    // busy is read, and its connection is no longer idle, before idle connections are closed.
    const sweep = () => setImmediate(() => server.closeIdleConnections());
    let sweeper: NodeJS.Timeout | undefined;
    const linger = setTimeout(
      () => {
        sweep();
        sweeper = setInterval(sweep, IDLE_SWEEP_MS);
      },
      Math.min(IDLE_LINGER_MS, graceMs),
    );
    let graceOver: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed out'>((resolve) => (graceOver = setTimeout(() => resolve('timed out'), graceMs)));
    try {
      if ((await Promise.race([closed, timedOut])) !== 'timed out') return { cut: 0 };
      const cut = inFlight.size;
      server.closeAllConnections();
      await closed;
      return { cut };
    } finally {
      clearTimeout(linger);
      clearInterval(sweeper);
      clearTimeout(graceOver);
    }
  };

  return { drain: (graceMs) => (draining ??= drain(graceMs)) };
}

/** Makes this answer the last on its connection: the client is told, and the connection ends after it. */
function lastOnItsConnection(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
  res.shouldKeepAlive = false;
}
