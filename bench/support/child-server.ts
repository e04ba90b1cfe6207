import { fork } from 'node:child_process';
import path from 'node:path';

/** A server under test running in a child process. */
export interface ChildServer {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Forks bench-server.ts with this process's loader flags (tsx), waits for its URL. Its stdout goes to
 * /dev/null: with request logging on, the cost of writing the log lines is measured, not a terminal's.
 */
export function startChildServer(args: string[], env: Record<string, string>): Promise<ChildServer> {
  const child = fork(path.join(__dirname, 'bench-server.ts'), args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    // BENCH_PROFILE_DIR=dir writes a V8 CPU profile of each server, to see where its time goes.
    execArgv: process.env.BENCH_PROFILE_DIR ? [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : process.execArgv,
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server ${args.join(' ')} exited with ${code}`)));
    child.once('message', (message) => {
      child.removeAllListeners('exit');
      const url = (message as { url: string }).url;
      resolve({
        url,
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.send('stop');
          }),
      });
    });
  });
}
