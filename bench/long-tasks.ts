/**
 * What held a server's event loop: the stretches of a V8 CPU profile where the main thread never went idle for at least
 * `min` milliseconds (default 20), grouped by what they were doing. A stretch is named by the innermost function of
 * src/ found in at least half of its samples (the request or job it served), or else by the package or native work
 * that took most of it, with the function of src/ found in most of its samples; garbage collection inside a stretch is counted apart. Per group: how
 * many stretches, their total and longest, and the share of the stretch the collector took.
 *
 * Profiles come from a server started with `--cpu-prof` (SOAK_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" for the
 * soak's instances; BENCH_PROFILE_DIR for bench:fhir). The sampling interval (1 ms by default) bounds what is seen.
 *
 * Run: npx tsx bench/long-tasks.ts FILE.cpuprofile [min ms=20] [top=15]
 */
import { areaOf, nameOf, type ProfileNode, readCpuProfile } from './support/cpu-profile';

interface Stretch {
  readonly startMs: number;
  readonly ms: number;
  readonly gcMs: number;
  readonly label: string;
}

const [file, minArg = '20', topArg = '15'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: npx tsx bench/long-tasks.ts FILE.cpuprofile [min ms] [top]\n');
  process.exit(2);
}
const minMs = Number(minArg);
const { profile, stackOf } = readCpuProfile(file);

const sourceFile = (url: string) => /\/(src\/.*)$/.exec(url)?.[1];
/** Where a leaf's time went: its package or file, or the native function by name. */
const leafArea = (node: ProfileNode): string => {
  const area = areaOf(node);
  return area === '(native)' ? `(native) ${node.callFrame.functionName}` : area;
};

/** Names a stretch from its samples (node ids and their durations). */
function labelOf(samples: readonly { id: number; micros: number }[], total: number): string {
  const depthOf = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const { id, micros } of samples) {
    const stack = stackOf(id);
    const leaf = stack[0];
    if (leaf.callFrame.functionName !== '(garbage collector)') areas.set(leafArea(leaf), (areas.get(leafArea(leaf)) ?? 0) + micros);
    const seen = new Set<string>();
    stack.forEach((node, i) => {
      if (!sourceFile(node.callFrame.url)) return;
      const name = nameOf(node);
      if (seen.has(name)) return;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
      // Depth from the root: larger is further in.
      depthOf.set(name, Math.max(depthOf.get(name) ?? 0, stack.length - i));
    });
  }
  const covering = [...inclusive].filter(([, micros]) => micros >= total / 2).sort((a, b) => depthOf.get(b[0])! - depthOf.get(a[0])!);
  if (covering.length) return covering[0][0];
  const [area] = [...areas].sort((a, b) => b[1] - a[1])[0] ?? ['(unknown)'];
  // The function of src/ that covered most of it, if any, says what it was doing.
  const [within] = [...inclusive].sort((a, b) => b[1] - a[1])[0] ?? [];
  return `mostly ${area}${within ? `, within ${within}` : ''}`;
}

const stretches: Stretch[] = [];
let current: { id: number; micros: number }[] = [];
let currentStart = 0;
let at = 0;
const close = () => {
  const micros = current.reduce((n, s) => n + s.micros, 0);
  if (micros >= minMs * 1000) {
    const gc = current.filter((s) => stackOf(s.id)[0].callFrame.functionName === '(garbage collector)').reduce((n, s) => n + s.micros, 0);
    stretches.push({ startMs: currentStart / 1000, ms: micros / 1000, gcMs: gc / 1000, label: labelOf(current, micros) });
  }
  current = [];
};
profile.samples.forEach((id, i) => {
  const micros = profile.timeDeltas[i + 1] ?? 0;
  if (stackOf(id)[0].callFrame.functionName === '(idle)') close();
  else {
    if (!current.length) currentStart = at;
    current.push({ id, micros });
  }
  at += micros;
});
close();

const seconds = (profile.endTime - profile.startTime) / 1e6;
console.log(`${file}: ${seconds.toFixed(0)} s profiled; ${stretches.length} stretches of at least ${minMs} ms without going idle`);
const lengths = Float64Array.from(stretches.map((s) => s.ms)).sort();
const pick = (q: number) => (lengths.length ? lengths[Math.min(lengths.length - 1, Math.floor(q * lengths.length))].toFixed(0) : '-');
console.log(`length: p50 ${pick(0.5)} ms, p90 ${pick(0.9)} ms, longest ${pick(1)} ms`);
// By tenth of the run: do long stretches grow in number or length as it goes on?
const tenths = Array.from({ length: 10 }, (_, k) => stretches.filter((s) => Math.floor((10 * s.startMs) / 1000 / seconds) === k));
console.log(
  `by tenth of the run (count / longest ms): ${tenths.map((list) => `${list.length}/${list.length ? Math.max(...list.map((s) => s.ms)).toFixed(0) : 0}`).join('  ')}`,
);
const groups = new Map<string, Stretch[]>();
for (const s of stretches) groups.set(s.label, [...(groups.get(s.label) ?? []), s]);
console.log(`\n${'count'.padStart(6)} ${'total ms'.padStart(9)} ${'longest'.padStart(8)} ${'gc %'.padStart(5)}  what`);
for (const [label, list] of [...groups]
  .sort((a, b) => b[1].reduce((n, s) => n + s.ms, 0) - a[1].reduce((n, s) => n + s.ms, 0))
  .slice(0, Number(topArg))) {
  const total = list.reduce((n, s) => n + s.ms, 0);
  const gc = list.reduce((n, s) => n + s.gcMs, 0);
  console.log(
    `${String(list.length).padStart(6)} ${total.toFixed(0).padStart(9)} ${Math.max(...list.map((s) => s.ms))
      .toFixed(0)
      .padStart(8)} ${((100 * gc) / total).toFixed(0).padStart(5)}  ${label}`,
  );
}
