/**
 * What a SMART scope gives an account: scopes only narrow what the account may do, so a scope asking for more is
 * given as the intersection, and the token response says so. A patient or family member never writes clinical data
 * (`user/*.cruds` gives `user/*.rs`, and c/u/d stay only on the types a portal writes); `patient/` scopes need the
 * patient chosen at launch (staff choose one of their organisation's); `system/` scopes are for backend services only.
 * A scope with query parameters is given when each parameter is a token search parameter of its type, for reading
 * only (`patient/Observation.crus?category=...` gives `patient/Observation.rs?category=...`).
 */
import { parseResourceScope, type SmartResourceScope } from '../../access/smart-scopes';
import { PORTAL_WRITABLE_TYPES } from '../../access/write-policy';
import { searchParametersOf } from '../../fhir/definitions';

/** Who the token is for: the account's kind (undefined for a backend service) and the launch patient. */
export interface ScopeHolder {
  readonly kind?: string;
  readonly patient?: string;
}

/** The part of each resource scope in `text` that `holder` can have, as scope text (scopes giving nothing left out). */
export function effectiveScopeText(text: string, holder: ScopeHolder): string {
  const out: string[] = [];
  for (const scope of text.split(' ')) {
    const parsed = parseResourceScope(scope);
    if (!parsed) continue;
    if (parsed.query) {
      const readable = queryScopeGiven(parsed, holder);
      if (readable) out.push(readable);
      continue;
    }
    if (holder.kind === undefined) {
      if (parsed.context === 'system') out.push(scope);
      continue;
    }
    if (parsed.context === 'system') continue;
    if (parsed.context === 'patient' && holder.patient === undefined) continue;
    if (holder.kind === 'staff' || !parsed.write || PORTAL_WRITABLE_TYPES.has(parsed.type)) {
      out.push(scope);
      continue;
    }
    const readOnly = readOnlyForm(scope);
    if (readOnly) out.push(readOnly);
  }
  return [...new Set(out)].join(' ');
}

/** What a scope with query parameters gives: its read part, when its context fits and it filters on token parameters. */
function queryScopeGiven(parsed: SmartResourceScope, holder: ScopeHolder): string | undefined {
  if (!parsed.read) return undefined;
  if ((holder.kind === undefined) !== (parsed.context === 'system')) return undefined;
  if (parsed.context === 'patient' && holder.patient === undefined) return undefined;
  if (!queryIsReadable(parsed)) return undefined;
  const mark = parsed.text.indexOf('?');
  return readOnlyForm(parsed.text.slice(0, mark)) + parsed.text.slice(mark);
}

/** Whether a scope's query (if any) filters only on token search parameters of its type, which this server applies. */
export function queryIsReadable(parsed: SmartResourceScope): boolean {
  const parameters = searchParametersOf(parsed.type);
  return (parsed.query ?? []).every((p) => parameters[p.name]?.type === 'token');
}

/** The scope with its write permissions taken off (`user/*.cruds` -> `user/*.rs`, `user/*.*` -> `user/*.read`). */
function readOnlyForm(scope: string): string | undefined {
  const dot = scope.lastIndexOf('.');
  const [head, permissions] = [scope.slice(0, dot), scope.slice(dot + 1)];
  if (permissions === '*') return `${head}.read`;
  if (permissions === 'write') return undefined;
  const reads = permissions.replace(/[cud]/g, '');
  return reads ? `${head}.${reads}` : undefined;
}
