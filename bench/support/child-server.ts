import { fork } from 'node:child_process';
import path from 'node:path';

/** Where a server's event loop stood still, in ms: its delay p99 and max, and garbage collection's total and longest pause. */
export interface Pauses {
  readonly eventLoopP99: number;
  readonly eventLoopMax: number;
  readonly gcMs: number;
  readonly gcMaxMs: number;
}

/** A server under test running in a child process. */
export interface ChildServer {
  readonly url: string;
  /** The server process's CPU time so far, in microseconds (user + system). */
  cpuMicros(): Promise<number>;
  /** Event-loop stalls and GC pauses (ms) since the last call. */
  pauses(): Promise<Pauses>;
  /** The server process's resident memory now, in bytes. */
  rss(): Promise<number>;
  /** Stops (idle) or starts (busy) the server's background work, so that only the server measured does any. */
  background(state: 'idle' | 'busy'): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Forks bench-server.ts (this checkout's, or `checkout`'s) with this process's loader flags (tsx) and `nodeFlags`, waits
 * for its URL. Its stdout goes to
 * /dev/null: with request logging on, the cost of writing the log lines is measured, not a terminal's.
 */
export function startChildServer(
  args: string[],
  env: Record<string, string>,
  nodeFlags: readonly string[] = [],
  /** Another checkout to run the server of (its bench/support/bench-server.ts), for a before/after in one run. */
  checkout?: string,
): Promise<ChildServer> {
  const script = checkout ? path.join(checkout, 'bench', 'support', 'bench-server.ts') : path.join(__dirname, 'bench-server.ts');
  const child = fork(script, args, {
    env: { ...process.env, ...env },
    // BENCH_SERVER_LOGS=1 shows the servers' log lines (warnings and errors: the product runs at LOG_LEVEL=warn).
    stdio: ['ignore', process.env.BENCH_SERVER_LOGS ? 'inherit' : 'ignore', 'inherit', 'ipc'],
    // BENCH_PROFILE_DIR=dir writes a V8 CPU profile of each server, to see where its time goes.
    execArgv: [
      ...process.execArgv,
      ...nodeFlags,
      ...(process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []),
    ],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server ${args.join(' ')} exited with ${code}`)));
    child.once('message', (message) => {
      child.removeAllListeners('exit');
      const url = (message as { url: string }).url;
      const ask = (question: 'cpu' | 'pauses' | 'idle' | 'busy' | 'rss'): Promise<{ cpu: NodeJS.CpuUsage; pauses: Pauses; rss: number }> =>
        new Promise((done) => {
          child.once('message', (reply) => done(reply as { cpu: NodeJS.CpuUsage; pauses: Pauses; rss: number }));
          child.send(question);
        });
      resolve({
        url,
        cpuMicros: async () => {
          const { cpu } = await ask('cpu');
          return cpu.user + cpu.system;
        },
        pauses: async () => (await ask('pauses')).pauses,
        rss: async () => (await ask('rss')).rss,
        background: async (state) => void (await ask(state)),
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.send('stop');
          }),
      });
    });
  });
}
