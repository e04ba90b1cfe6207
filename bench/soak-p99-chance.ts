/**
 * How often the soak's p99 target misses by chance: two windows of n requests drawn from one unchanging latency
 * distribution, their p99s taken as the soak takes them, and the share of pairs whose ratio exceeds 1.3x. The basis of
 * the soak's minimum requests per window (bench/soak-p99-windows.ts, docs/OPERATIONS.md).
 *
 * Run: npx tsx bench/soak-p99-chance.ts (seeded: the same figures every run; a few seconds).
 */
import { P99_GROWTH_LIMIT } from './soak-p99-windows';
import { quantile } from './support/load-stats';

const PAIRS = 4000;
const SIZES = [30, 100, 200, 300, 500, 1000];

let seed = 12345;
/** mulberry32: a small seeded generator, so the table is reproducible. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

const DISTRIBUTIONS: Record<string, () => number> = {
  'lognormal, sigma 0.3': () => Math.exp(0.3 * normal()),
  'lognormal, sigma 0.5': () => Math.exp(0.5 * normal()),
  'lognormal, sigma 1': () => Math.exp(normal()),
  '95% uniform, 5% Pareto tail (alpha 3)': () => (random() < 0.95 ? 1 + 0.2 * random() : Math.pow(1 - random(), -1 / 3) * 1.2),
};

const p99 = (draw: () => number, n: number) => quantile(Float64Array.from({ length: n }, draw).sort(), 0.99);

console.log(`share of ${PAIRS} pairs of windows from one distribution whose p99s differ by more than ${P99_GROWTH_LIMIT}x`);
console.log(`${'requests a window'.padEnd(40)} ${SIZES.map((n) => String(n).padStart(7)).join('')}`);
for (const [name, draw] of Object.entries(DISTRIBUTIONS)) {
  const shares = SIZES.map((n) => {
    let missed = 0;
    for (let k = 0; k < PAIRS; k++) if (p99(draw, n) / p99(draw, n) > P99_GROWTH_LIMIT) missed++;
    return `${((100 * missed) / PAIRS).toFixed(1)}%`.padStart(7);
  });
  console.log(`${name.padEnd(40)} ${shares.join('')}`);
}
