import fs from 'node:fs';
import path from 'node:path';
import { CcdaParseError } from '../../ccda/parse';
import { parseCcdaOffThread, ParseWorkerLost, stopCcdaParseWorker } from './parse-ccda-off-thread';

/**
 * The parse worker's life (issue 23): a document is never failed by a worker it was not sent to, a document that runs
 * the worker out of memory is the one refused (413, naming the limit), and a document lost with a worker through no
 * fault of its own is parsed again once, then refused as a 503 to retry.
 */

const SMALL = fs.readFileSync(path.resolve(__dirname, '../../../fixtures/ccda-golden/negated-problem-and-allergy.xml'));

/** The small document with a section narrative of `mb` MB: what a heap of a few tens of MB cannot parse. */
function withLongNarrative(mb: number): Buffer {
  const xml = SMALL.toString('utf8');
  const at = xml.indexOf('<text>') + '<text>'.length;
  const paragraph = `<paragraph>${'the cough keeps me awake most nights and gets worse when I climb stairs. '.repeat(14)}</paragraph>`;
  return Buffer.from(xml.slice(0, at) + paragraph.repeat(Math.ceil((mb * 1024 * 1024) / paragraph.length)) + xml.slice(at));
}

/** A heap limit the parser starts in and parses SMALL in, but not a 19 MB narrative. */
const LOW_HEAP_MB = 160;

afterEach(() => stopCcdaParseWorker());

test('a document sent as the idle worker is being stopped is parsed by the next worker, not failed by the old one', async () => {
  const expected = await parseCcdaOffThread(SMALL);
  // What the idle timer does after 30 s without a document; the document arrives before the old thread has exited.
  const stopping = stopCcdaParseWorker();
  const parsed = parseCcdaOffThread(SMALL);
  await stopping;
  expect((await parsed).bundle.entry.length).toBe(expected.bundle.entry.length);
});

test('a document on a worker stopped mid-parse is sent once more to a new worker', async () => {
  const large = withLongNarrative(5);
  const parsing = parseCcdaOffThread(large);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await stopCcdaParseWorker();
  expect((await parsing).bundle.entry.length).toBeGreaterThan(0);
});

test('the document that runs the worker out of memory is a 413 naming the limit; the one queued behind it is parsed', async () => {
  const huge = withLongNarrative(19);
  const [outOfMemory, behind] = await Promise.allSettled([
    parseCcdaOffThread(huge, undefined, LOW_HEAP_MB),
    parseCcdaOffThread(SMALL, undefined, LOW_HEAP_MB),
  ]);
  expect(outOfMemory.status).toBe('rejected');
  const err = (outOfMemory as PromiseRejectedResult).reason as CcdaParseError;
  expect(err).toBeInstanceOf(CcdaParseError);
  expect(err.code).toBe('too-large');
  expect(err.message).toBe(
    `The document needs more memory to import than one import may use (${LOW_HEAP_MB} MB, CCDA_PARSE_HEAP_MB); nothing was imported`,
  );
  expect(behind.status).toBe('fulfilled');
  expect((behind as PromiseFulfilledResult<Awaited<ReturnType<typeof parseCcdaOffThread>>>).value.bundle.entry.length).toBeGreaterThan(0);
}, 60_000);

test('a document lost with two workers, each run out of memory by another document, is refused as ParseWorkerLost', async () => {
  const huge = withLongNarrative(19);
  // The second huge one waits behind the first (lost with it, not its fault), then runs the new worker out of memory
  // with the small one waiting behind it again.
  const results = await Promise.allSettled([
    parseCcdaOffThread(huge, undefined, LOW_HEAP_MB),
    parseCcdaOffThread(huge, undefined, LOW_HEAP_MB),
    parseCcdaOffThread(SMALL, undefined, LOW_HEAP_MB),
  ]);
  const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error) : undefined));
  expect(reasons.map((r) => r?.name)).toEqual(['CcdaParseError', 'CcdaParseError', 'ParseWorkerLost']);
  expect(reasons[2]).toBeInstanceOf(ParseWorkerLost);
  expect(reasons[2]!.message).toBe(
    'The server could not parse the document just now (the C-CDA parse worker ran out of memory on another document, twice); nothing was imported. Please send it again',
  );
  // The next document gets a worker of its own and is parsed.
  expect((await parseCcdaOffThread(SMALL, undefined, LOW_HEAP_MB)).bundle.entry.length).toBeGreaterThan(0);
}, 60_000);
