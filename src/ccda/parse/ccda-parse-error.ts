/**
 * The one error parseCcda throws: the input is not a document we are willing to read
 * (malformed XML, a DTD, too large, too deep, not a ClinicalDocument). It carries the
 * line and column of the offending markup so the HTTP layer can answer 400 with a
 * message the sender can act on.
 */
export type CcdaParseErrorCode =
  'malformed' | 'dtd-refused' | 'too-large' | 'too-deep' | 'too-many-attributes' | 'too-many-elements' | 'not-cda' | 'encoding';

/** A document that cannot be imported; line/column are 1-based (0 when not positional). */
export class CcdaParseError extends Error {
  readonly code: CcdaParseErrorCode;
  readonly line: number;
  readonly column: number;

  constructor(code: CcdaParseErrorCode, message: string, line = 0, column = 0) {
    super(line > 0 ? `${message} (line ${line}, column ${column})` : message);
    this.name = 'CcdaParseError';
    this.code = code;
    this.line = line;
    this.column = column;
  }
}

/** The 1-based line and column of a character offset in a string. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
