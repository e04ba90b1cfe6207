import { type Kysely, type RawBuilder, sql } from 'kysely';

/** A plan node of EXPLAIN (FORMAT JSON), with what ANALYZE measured. */
interface PlanNode {
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly 'Actual Rows': number;
  readonly 'Actual Loops': number;
  readonly Plans?: PlanNode[];
}

/**
 * The rows a statement read from tables and indexes, over all its loops, as EXPLAIN ANALYZE counts them: the work of
 * the plan, whatever the depth of the indexes it descends or the way it removes duplicates. With `relation`, only the
 * rows read from that table (its scans, by index or not).
 */
export async function rowsRead<DB>(db: Kysely<DB>, statement: RawBuilder<unknown>, relation?: string): Promise<number> {
  const { rows } = await sql<{ 'QUERY PLAN': unknown }>`explain (analyze, format json) ${statement}`.execute(db);
  const text = rows[0]['QUERY PLAN'];
  const [{ Plan: plan }] = (typeof text === 'string' ? JSON.parse(text) : text) as [{ Plan: PlanNode }];
  const produced = (node: PlanNode): number =>
    ((relation === undefined ? node['Relation Name'] || node['Index Name'] : node['Relation Name'] === relation)
      ? node['Actual Rows'] * node['Actual Loops']
      : 0) + (node.Plans ?? []).reduce((sum, child) => sum + produced(child), 0);
  return produced(plan);
}
