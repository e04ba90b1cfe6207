/**
 * oidc-provider's storage (its Adapter interface) on the service's database: every session, interaction, grant,
 * code and token is a row of `oauth_state` (migration 0016), so every instance behind a load balancer agrees on
 * them, and a code used on one instance is used on all. Registered apps are read from `oauth_client`.
 */
import { Kysely, sql } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Tables } from '../../db/tables';

/** The model oidc-provider asks for registered clients. */
const CLIENT_MODEL = 'Client';

/** Builds one adapter per oidc-provider model name over the database. */
export function oauthStateAdapterFactory(db: Kysely<Tables>): (model: string) => Adapter {
  return (model) => (model === CLIENT_MODEL ? new ClientAdapter(db) : new OauthStateAdapter(db, model));
}

/** One model's rows of oauth_state. */
export class OauthStateAdapter implements Adapter {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly model: string,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    await sql`insert into oauth_state (model, id, payload, grant_id, uid, user_code, expires_at)
      values (${this.model}, ${id}, ${JSON.stringify(payload)}::jsonb, ${payload.grantId ?? null}, ${payload.uid ?? null}, ${payload.userCode ?? null}, ${expiresAt})
      on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
        user_code = excluded.user_code, expires_at = excluded.expires_at`.execute(this.db);
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.findWhere(sql`id = ${id}`);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findWhere(sql`uid = ${uid}`);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findWhere(sql`user_code = ${userCode}`);
  }

  /** Marks a code or token used: a second use is then refused (and, for a code, revokes what the first gave). */
  async consume(id: string): Promise<void> {
    await sql`update oauth_state set consumed_at = now() where model = ${this.model} and id = ${id}`.execute(this.db);
  }

  async destroy(id: string): Promise<void> {
    await sql`delete from oauth_state where model = ${this.model} and id = ${id}`.execute(this.db);
  }

  /** Revokes everything one grant issued (a code used twice, a refresh token replayed, a revoked app). */
  async revokeByGrantId(grantId: string): Promise<void> {
    await sql`delete from oauth_state where grant_id = ${grantId}`.execute(this.db);
  }

  private async findWhere(condition: ReturnType<typeof sql>): Promise<AdapterPayload | undefined> {
    const { rows } = await sql<{ payload: AdapterPayload | string; consumed: number | null }>`
      select payload, floor(extract(epoch from consumed_at))::float8 as consumed from oauth_state
      where model = ${this.model} and ${condition} and (expires_at is null or expires_at > now())`.execute(this.db);
    const row = rows[0];
    if (!row) return undefined;
    const payload = typeof row.payload === 'string' ? (JSON.parse(row.payload) as AdapterPayload) : row.payload;
    return row.consumed !== null ? { ...payload, consumed: Number(row.consumed) } : payload;
  }
}

/** Registered apps (`chartkeeper client add`): read only; dynamic registration is off. */
class ClientAdapter implements Adapter {
  constructor(private readonly db: Kysely<Tables>) {}

  async find(id: string): Promise<AdapterPayload | undefined> {
    const { rows } = await sql<{ metadata: AdapterPayload | string }>`select metadata from oauth_client where client_id = ${id}`.execute(
      this.db,
    );
    const metadata = rows[0]?.metadata;
    return typeof metadata === 'string' ? (JSON.parse(metadata) as AdapterPayload) : metadata;
  }

  upsert(): Promise<void> {
    return Promise.reject(new Error('Apps are registered with `chartkeeper client add`'));
  }

  findByUid(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  findByUserCode(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  async consume(): Promise<void> {}

  async destroy(): Promise<void> {}

  async revokeByGrantId(): Promise<void> {}
}
