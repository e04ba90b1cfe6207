/**
 * PostgreSQL array literals for bulk statements (`unnest($1::text[], ...)`), built by JSON.stringify, which is
 * native, instead of pg's per-element escaping in JavaScript: a 10,000-resource import binds some 600,000 array
 * elements. JSON escapes `"` and `\` exactly as an array literal does, quotes every string, writes numbers and
 * booleans as PostgreSQL reads them, and its null is the literal's NULL. Text with any other JSON escape (a control
 * character, a lone surrogate) falls back to the values themselves, which the driver quotes its own way.
 */
export type ArrayParameter = string | readonly (string | number | boolean | null)[];

/** The array literal of `values`, or `values` when only the driver can quote them. */
export function arrayLiteral(values: readonly (string | number | boolean | null)[]): ArrayParameter {
  const json = JSON.stringify(values);
  return json.includes('\\') && otherEscape(json) ? values : `{${json.slice(1, -1)}}`;
}

/** Whether JSON text holds an escape other than `\"` and `\\` (such as `\n`, `\u0001`). */
function otherEscape(json: string): boolean {
  return json.replace(/\\["\\]/g, '').includes('\\');
}
