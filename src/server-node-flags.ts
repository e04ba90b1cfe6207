/**
 * The Node flags the server and the CLI run with. They are launch flags: V8 reads them only when the process starts,
 * and Node refuses --min-semi-space-size in NODE_OPTIONS. The `chartkeeper` command carries them in the shebang of
 * bin/chartkeeper.js, and `npm start` (package.json) runs that command, as do the instances ops/cluster.sh starts; the
 * Docker image (Dockerfile) passes them to node; bench/fhir.ts starts its servers and its import with them
 * (test/server-node-flags.test.ts keeps them in step). Worker threads do not keep them (src/start-worker.ts).
 *
 * --max-semi-space-size=64 (MB; Node 20's default is 16): a request allocates many short-lived objects (parsed
 * headers, promises, query builders, rows), and a larger young generation lets them die between collections instead
 * of being copied. Measured (bench/fhir.ts, audited reads at 50 connections, 2 CPUs, 5 paired runs): garbage
 * collection time per request down by 35-45%, throughput up ~8% on average; it costs up to ~100 MB more memory.
 * An import keeps each parsed file alive while it is validated and written: with 64 MB most of it dies young instead
 * of being copied twice and promoted (bench/fhir.ts import, 2 CPUs, 8 alternating runs: faster in 6 of 8, median
 * 3,124 against 2,965 resources/s, and less CPU per resource).
 *
 * --min-semi-space-size=64: the young generation starts at that size instead of growing to it under load. Grown, it
 * came late: in the 30-minute soaks an instance's heap committed 92 -> 208 MB over its first two minutes as the
 * semi-spaces grew, and that warm-up was counted as RSS growth after the first minute. Its pages are touched only as
 * they are first used, so an idle process holds no more.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64', '--min-semi-space-size=64'];
