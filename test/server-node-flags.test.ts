import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SERVER_NODE_FLAGS } from '../src/server-node-flags';
import { WORKER_YOUNG_GENERATION_MB } from '../src/start-worker';

const root = path.resolve(__dirname, '..');

test('npm start, the Docker image and the chartkeeper command launch with the flags of src/server-node-flags.ts', () => {
  const start = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
  const cmd = fs
    .readFileSync(path.join(root, 'Dockerfile'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('CMD '))
    .at(-1);
  const imageArgs = JSON.parse(cmd!.slice(4)) as string[];
  expect(SERVER_NODE_FLAGS.length).toBeGreaterThan(0);
  // npm start runs the command, whose shebang carries the flags (node refuses --min-semi-space-size in NODE_OPTIONS).
  expect(start).toBe('bin/chartkeeper.js serve');
  for (const flag of SERVER_NODE_FLAGS) {
    expect(imageArgs.slice(1, 1 + SERVER_NODE_FLAGS.length)).toEqual([...SERVER_NODE_FLAGS]);
    expect(flag).toMatch(/^--[a-z-]+=\d+$/);
  }
  const shebang = fs.readFileSync(path.join(root, 'bin', 'chartkeeper.js'), 'utf8').split('\n')[0];
  expect(shebang).toBe(`#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(' ')}`);
});

test('ops/cluster.sh starts its instances with the flags: through the shebang, or with its flags before their own', () => {
  const script = fs.readFileSync(path.join(root, 'ops', 'cluster.sh'), 'utf8');
  const launches = script.split('\n').filter((line) => /\bserve\b/.test(line) && /nohup/.test(line));
  expect(launches).toHaveLength(1);
  expect(launches[0]).toMatch(/^\s*nohup "\$\{launch\[@\]\}" serve /);
  // By default the command itself: through node (`node bin/chartkeeper.js`) the shebang, and so the flags, would be left out.
  expect(script).toMatch(/^\s*local launch=\("\$ROOT\/bin\/chartkeeper\.js"\)$/m);
  // With INSTANCE_NODE_FLAGS (a profiler, say), node with the shebang's flags first, read from the shebang itself.
  const flagged = /^\s*launch=\(node \$\((.+)\) \$INSTANCE_NODE_FLAGS "\$ROOT\/bin\/chartkeeper\.js"\)$/m.exec(script);
  expect(flagged).not.toBeNull();
  const shebangFlags = execFileSync('bash', ['-c', flagged![1]], { encoding: 'utf8', env: { ...process.env, ROOT: root } }).trim();
  expect(shebangFlags).toBe(SERVER_NODE_FLAGS.join(' '));
});

test('the chartkeeper command runs through its shebang, as npx runs it', () => {
  // The kernel reads the shebang: `env -S` splits it into node and the flags.
  const usage = execFileSync(path.join(root, 'bin', 'chartkeeper.js'), [], { encoding: 'utf8' });
  expect(usage).toContain('chartkeeper <command>');
});

test('given at launch, the flags take effect: the heap limit counts the larger young generation', () => {
  // V8 reads these flags only when the process starts (v8.setFlagsFromString later changes nothing), which is why
  // they are launch flags; heap_size_limit includes the young generation's reservation.
  const heapLimit = (flags: readonly string[]): number =>
    Number(
      execFileSync(process.execPath, [...flags, '-e', "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit))"], {
        encoding: 'utf8',
      }),
    );
  expect(heapLimit(SERVER_NODE_FLAGS)).toBeGreaterThan(heapLimit([]));
});

test("under the server's flags the main thread holds its young generation from the start, and a worker gets its own", () => {
  const out = execFileSync(
    process.execPath,
    [...SERVER_NODE_FLAGS, '-r', 'tsx/cjs', path.join(root, 'test', 'support', 'worker-young-generation.ts')],
    { encoding: 'utf8', cwd: root },
  );
  const { mainNewSpaceMb, mainNewSpaceAfterMb, workerYoungMb } = JSON.parse(out) as {
    mainNewSpaceMb: number;
    mainNewSpaceAfterMb: number;
    workerYoungMb: number[];
  };
  // One 64 MB semi-space in use from the start (V8's own starts at 1 MB and grows).
  expect(mainNewSpaceMb).toBe(64);
  expect(mainNewSpaceAfterMb).toBe(64);
  // V8 takes its flags over a worker's resourceLimits: without startWorker's reset each worker got 192 MB here.
  expect(workerYoungMb).toEqual([WORKER_YOUNG_GENERATION_MB, WORKER_YOUNG_GENERATION_MB]);
});
