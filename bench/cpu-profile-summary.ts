/**
 * Where a server's CPU went, from a V8 CPU profile (BENCH_PROFILE_DIR=dir npm run bench:fhir writes one per server):
 * self time by package or source file, then the top functions by self and by inclusive time, in µs per request when
 * the number of requests is given. Samples before the first one inside `from` (a function only a request runs, say
 * sendJsonText for the product or serveReferenceSearch for reference (3)) are left out: the server's start is not
 * what is measured. Time attributed to `writev` and the like is wall time: a thread preempted in a syscall on a busy
 * machine is charged for the wait.
 *
 * Run: npx tsx bench/cpu-profile-summary.ts FILE.cpuprofile [requests] [from=sendJsonText] [top=40]
 */
import { areaOf, nameOf, readCpuProfile } from './support/cpu-profile';

const [file, requestsArg, from = 'sendJsonText', topArg = '40'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: npx tsx bench/cpu-profile-summary.ts FILE.cpuprofile [requests] [from] [top]\n');
  process.exit(2);
}
const { profile, stackOf } = readCpuProfile(file);

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const areas = new Map<string, number>();
const add = (map: Map<string, number>, key: string, micros: number): void => void map.set(key, (map.get(key) ?? 0) + micros);
let started = false;
let busy = 0;
profile.samples.forEach((id, i) => {
  const micros = profile.timeDeltas[i + 1] ?? 0;
  const stack = stackOf(id);
  started ||= stack.some((node) => node.callFrame.functionName === from);
  if (!started || stack[0].callFrame.functionName === '(idle)') return;
  busy += micros;
  add(self, nameOf(stack[0]), micros);
  add(areas, areaOf(stack[0]), micros);
  for (const name of new Set(stack.map(nameOf))) add(inclusive, name, micros);
});

const requests = Number(requestsArg) || 0;
const unit = requests ? 'µs/request' : 'ms';
const amount = (micros: number): string => (requests ? micros / requests : micros / 1000).toFixed(1).padStart(9);
const print = (title: string, map: Map<string, number>, top: number): void => {
  process.stdout.write(`\n${title} (${unit}, % of busy)\n`);
  for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`${amount(micros)} ${((100 * micros) / busy).toFixed(1).padStart(5)}%  ${key}\n`);
};
process.stdout.write(
  `${file}: busy ${(busy / 1e6).toFixed(2)} s from the first sample in ${from}${requests ? `, ${requests} requests` : ''}\n`,
);
print('self time by area', areas, 30);
print('self time by function', self, Number(topArg));
print('inclusive time by function', inclusive, Number(topArg));
