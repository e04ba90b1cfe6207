import { signAccessToken } from '../auth/access-token';
import { signingKeyFor } from '../auth/token-authenticator';
import { systemClock } from '../fhir/clock';
import type { CliArgs } from './cli-args';
import { cliConfig } from './cli-context';

/** `chartkeeper token --staff [--sub ID] [--ttl SECONDS]`: prints a signed bearer token for local use and scripts. */
export async function tokenCommand(args: CliArgs): Promise<number> {
  if (!args.flags.staff) {
    process.stderr.write('usage: chartkeeper token --staff [--sub Practitioner/ID] [--ttl SECONDS]\n');
    return 2;
  }
  const config = cliConfig(args);
  const ttl = typeof args.flags.ttl === 'string' ? Number(args.flags.ttl) : 12 * 3600;
  if (!Number.isInteger(ttl) || ttl < 1) {
    process.stderr.write('--ttl must be a whole number of seconds\n');
    return 2;
  }
  const sub = typeof args.flags.sub === 'string' ? args.flags.sub : 'staff:cli';
  const key = await signingKeyFor(config);
  process.stdout.write(`${await signAccessToken({ sub, kind: 'staff' }, key, { clock: systemClock, ttlSeconds: ttl })}\n`);
  return 0;
}
