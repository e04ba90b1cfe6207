/**
 * Where a rest-hook may deliver. A Subscription makes this service send requests to an address its writer chose, so
 * without a rule it would be a way into the internal network (server-side request forgery): cloud metadata at
 * 169.254.169.254, databases and admin pages on private addresses, this service's own loopback. The rule: `https`
 * to a public address; `http`, and any non-public address (private, loopback, link-local, unique-local...), only for
 * hosts on the allow-list (SUBSCRIPTION_ALLOW_HOSTS). The check is made when the Subscription is written (for what
 * its URL says) and again at each connection, on the address the name resolved to (a name can resolve elsewhere).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';

/** Hosts (names, addresses or CIDR ranges) that may be reached over http or at a non-public address. */
export interface EndpointPolicy {
  readonly names: ReadonlySet<string>;
  readonly ranges: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];
}

/** The allow-list when none is configured: this machine's loopback, where test receivers and sidecars listen. */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = Object.freeze(['localhost', '127.0.0.0/8', '::1']);

/** Parses allow-list entries (host names, IP addresses, CIDR ranges); throws naming the first bad one. */
export function endpointPolicy(entries: readonly string[] = DEFAULT_ALLOWED_HOSTS): EndpointPolicy {
  const names = new Set<string>();
  const ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry.includes('/')) {
      try {
        ranges.push(ipaddr.parseCIDR(entry));
      } catch {
        throw new Error(`"${raw}" is not a CIDR range`);
      }
    } else if (ipaddr.isValid(entry)) {
      const address = ipaddr.process(entry);
      ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}$/.test(entry)) {
      names.add(entry);
    } else {
      throw new Error(`"${raw}" is not a host name, an IP address or a CIDR range`);
    }
  }
  return { names, ranges };
}

/** The host of a URL as a name or a bare address (IPv6 without its brackets). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/** Whether an address is on the allow-list. */
function addressAllowed(address: ipaddr.IPv4 | ipaddr.IPv6, policy: EndpointPolicy): boolean {
  return policy.ranges.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

/** Whether an address is an ordinary public one (not private, loopback, link-local, reserved...). */
function isPublic(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return address.range() === 'unicast';
}

/**
 * Why this endpoint may not be used, or undefined when it may: it must be an absolute https URL (http only for an
 * allowed host), without credentials (the channel's headers carry those), and not at a non-public address unless
 * that address or the host's name is allowed.
 */
export function endpointProblem(endpoint: string, policy: EndpointPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `"${endpoint}" is not an absolute URL`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `the endpoint must be an https URL, not ${url.protocol}`;
  if (url.username || url.password) return 'the endpoint may not carry a user name or password; send credentials in channel.header';
  const host = hostOf(url);
  const literal = ipaddr.isValid(host) ? ipaddr.process(host) : undefined;
  const allowed = policy.names.has(host) || (literal !== undefined && addressAllowed(literal, policy));
  if (literal && !isPublic(literal) && !allowed) {
    return `the endpoint's address ${host} is ${literal.range()}, not public: it may not be reached unless allowed in SUBSCRIPTION_ALLOW_HOSTS`;
  }
  if (url.protocol === 'http:' && !allowed)
    return `the endpoint must use https; http is allowed only for the hosts in SUBSCRIPTION_ALLOW_HOSTS`;
  return undefined;
}

/**
 * Whether a delivery to `host` may connect to `address` (what the host's name resolved to): a public address, or one
 * allowed by address, or by the host's name.
 */
export function connectionAllowed(host: string, address: string, policy: EndpointPolicy): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address);
  return isPublic(parsed) || addressAllowed(parsed, policy) || policy.names.has(host.toLowerCase());
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that resolves as usual and then refuses an address the policy does not allow, so the
 * check applies to the address actually connected to, not to what the name seemed to be when the Subscription was
 * written.
 */
export function checkedLookup(policy: EndpointPolicy) {
  return (hostname: string, options: object, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses;
      const refused = list.find((a) => !connectionAllowed(hostname, a.address, policy));
      if (refused) {
        const error: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${refused.address}, which is not public and not allowed`);
        error.code = 'EADDRNOTALLOWED';
        return callback(error, []);
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}
