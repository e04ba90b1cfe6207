import { fork } from 'node:child_process';
import path from 'node:path';

/** A server under test running in a child process. */
export interface ChildServer {
  readonly url: string;
  /** The server process's CPU time so far, in microseconds (user + system). */
  cpuMicros(): Promise<number>;
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
        cpuMicros: () =>
          new Promise<number>((done) => {
            child.once('message', (reply) => {
              const { cpu } = reply as { cpu: NodeJS.CpuUsage };
              done(cpu.user + cpu.system);
            });
            child.send('cpu');
          }),
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.send('stop');
          }),
      });
    });
  });
}
