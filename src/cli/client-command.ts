import { readFile } from 'node:fs/promises';
import { addClient, ClientRegistrationError, listClients, removeClient } from '../auth/smart/oauth-clients';
import { migrateToLatest } from '../db/migrator';
import { openDatabase } from '../db/database';
import type { CliArgs } from './cli-args';
import { cliConfig } from './cli-context';

const USAGE = `usage: chartkeeper client add --name NAME --redirect-uri URI[,URI...] --public
       chartkeeper client add --name NAME --redirect-uri URI[,URI...] --jwks FILE    (confidential app, private_key_jwt)
       chartkeeper client add --name NAME --jwks FILE --organization ID             (backend service, system/ scopes)
       chartkeeper client list
       chartkeeper client remove CLIENT_ID
`;

/** The largest JWKS file read (a handful of public keys). */
const MAX_JWKS_BYTES = 64 * 1024;

/** `chartkeeper client add|list|remove`: the apps registered with the SMART authorization server. */
export async function clientCommand(args: CliArgs): Promise<number> {
  const [action, ...rest] = args.positional;
  if (!['add', 'list', 'remove'].includes(action ?? '') || (action === 'remove' && rest.length !== 1)) {
    process.stderr.write(USAGE);
    return 2;
  }
  let jwks: unknown;
  if (action === 'add' && typeof args.flags.jwks === 'string') {
    const text = await readFile(args.flags.jwks, 'utf8');
    if (text.length > MAX_JWKS_BYTES) {
      process.stderr.write(`${args.flags.jwks} is larger than a JWKS of public keys can be (${MAX_JWKS_BYTES} bytes)\n`);
      return 2;
    }
    try {
      jwks = JSON.parse(text);
    } catch {
      process.stderr.write(`${args.flags.jwks} is not JSON\n`);
      return 2;
    }
  }
  const database = await openDatabase(cliConfig(args));
  try {
    await migrateToLatest(database.db);
    if (action === 'list') {
      for (const c of await listClients(database.db)) {
        process.stdout.write(`${c.clientId}\t${c.kind}\t${c.name}\t${c.redirectUris.join(',') || `organization ${c.organizationId}`}\n`);
      }
      return 0;
    }
    if (action === 'remove') {
      if (await removeClient(database.db, rest[0])) {
        process.stdout.write(`removed ${rest[0]} and every grant and token it held\n`);
        return 0;
      }
      process.stderr.write(`no client ${rest[0]}\n`);
      return 1;
    }
    const redirect =
      typeof args.flags['redirect-uri'] === 'string'
        ? args.flags['redirect-uri']
            .split(',')
            .map((u) => u.trim())
            .filter(Boolean)
        : [];
    const client = await addClient(database.db, {
      name: typeof args.flags.name === 'string' ? args.flags.name : '',
      redirectUris: redirect,
      public: args.flags.public === true,
      jwks,
      organizationId: typeof args.flags.organization === 'string' ? args.flags.organization : undefined,
    });
    process.stdout.write(`client_id: ${client.clientId}\nkind: ${client.kind}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ClientRegistrationError) {
      process.stderr.write(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  } finally {
    await database.close();
  }
}
