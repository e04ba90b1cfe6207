/**
 * Sends one notification to a rest-hook endpoint: a POST of FHIR JSON with the channel's headers, no redirects
 * followed, a time limit, and only to an address the endpoint policy allows (checked on the address connected to).
 * 2xx is taken; anything else, or no answer in time, is a failure the delivery job retries.
 */
import http from 'node:http';
import https from 'node:https';
import ipaddr from 'ipaddr.js';
import { checkedLookup, connectionAllowed, type EndpointPolicy, endpointProblem } from './endpoint-policy';

/** How long a receiver has to answer one notification. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** Most of a receiver's answer read (and thrown away). */
const MAX_ANSWER_BYTES = 64 * 1024;

/** How a delivery went: taken (2xx), or the reason it was not. */
export type DeliveryResult = { readonly ok: true; readonly status: number } | { readonly ok: false; readonly reason: string };

/** POSTs `body` to `endpoint`; never throws. */
export function postNotification(
  endpoint: string,
  headers: readonly string[],
  body: string,
  policy: EndpointPolicy,
  timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<DeliveryResult> {
  const problem = endpointProblem(endpoint, policy);
  if (problem) return Promise.resolve({ ok: false, reason: `endpoint refused: ${problem}` });
  const url = new URL(endpoint);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // A literal address is connected to without a lookup, so it is checked here.
  if (ipaddr.isValid(host) && !connectionAllowed(host, host, policy))
    return Promise.resolve({ ok: false, reason: `endpoint address ${host} is not allowed` });
  const requestHeaders: Record<string, string> = {
    'Content-Type': 'application/fhir+json',
    'Content-Length': String(Buffer.byteLength(body)),
  };
  for (const header of headers) {
    const at = header.indexOf(':');
    requestHeaders[header.slice(0, at).trim()] = header.slice(at + 1).trim();
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: DeliveryResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const send = url.protocol === 'https:' ? https.request : http.request;
    const request = send(
      url,
      { method: 'POST', headers: requestHeaders, lookup: checkedLookup(policy), agent: false, timeout: timeoutMs },
      (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) response.destroy();
        });
        const status = response.statusCode ?? 0;
        const done = (): void =>
          finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, reason: `the endpoint answered ${status}` });
        response.on('end', done);
        response.on('close', done);
        response.on('error', done);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: err.message || err.code || 'connection failed' }));
    request.end(body);
  });
}
