/**
 * Worker thread body of parseCcdaOffThread: parses one C-CDA document per message (the guard, the tree, the
 * mapping) and gives its resources the US Core profiles they meet, the CPU- and memory-heavy part of an import, away
 * from the thread that serves requests.
 */
import { parentPort } from 'node:worker_threads';
import { CcdaParseError, parseCcda } from '../../ccda/parse';
import { claimUsCoreProfiles } from './ccda-us-core-claims';
import type { ParseReply, ParseRequest } from './parse-ccda-off-thread';

parentPort!.on('message', ({ id, xml, maxBytes }: ParseRequest) => {
  // Said first, so that if this document runs the heap out, the document is known (parse-ccda-off-thread.ts).
  parentPort!.postMessage({ id, started: true } satisfies ParseReply);
  let reply: ParseReply;
  try {
    reply = { id, result: claimUsCoreProfiles(parseCcda(typeof xml === 'string' ? xml : Buffer.from(xml), { maxBytes })) };
  } catch (err) {
    reply =
      err instanceof CcdaParseError
        ? { id, parseError: { code: err.code, message: err.message, line: err.line, column: err.column } }
        : { id, failure: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  parentPort!.postMessage(reply);
});
