/**
 * A small reader for the messages Chartkeeper itself writes (nodemailer output: single part or
 * multipart/alternative, 7bit / quoted-printable / base64, RFC 2047 subjects). Tests and the outbox tooling
 * use it to pull the link or code back out of a mail; it is not a general MIME parser.
 */

/** The parts of a received message the flows care about. */
export interface MimeMessage {
  /** Header names in lower case; repeated headers keep the last value. Values are unfolded and decoded. */
  readonly headers: ReadonlyMap<string, string>;
  readonly subject: string;
  readonly from: string;
  readonly to: string;
  readonly text?: string;
  readonly html?: string;
  /** Parts sent as files (Content-Disposition attachment, or with a file name), decoded. */
  readonly attachments: readonly { readonly filename: string; readonly contentType: string; readonly content: Buffer }[];
}

interface Part {
  headers: Map<string, string>;
  body: string;
}

function splitHeadersAndBody(raw: string): Part {
  const normalized = raw.replace(/\r\n/g, '\n');
  const end = normalized.indexOf('\n\n');
  const headerText = end < 0 ? normalized : normalized.slice(0, end);
  const body = end < 0 ? '' : normalized.slice(end + 2);
  const headers = new Map<string, string>();
  let last: string | undefined;
  for (const line of headerText.split('\n')) {
    if (/^[ \t]/.test(line) && last) {
      headers.set(last, `${headers.get(last)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) {
      last = line.slice(0, colon).trim().toLowerCase();
      headers.set(last, line.slice(colon + 1).trim());
    }
  }
  return { headers, body };
}

function headerParam(value: string, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(value);
  return m ? (m[1] ?? m[2]) : undefined;
}

function charsetDecode(bytes: Buffer, charset: string | undefined): string {
  return new TextDecoder(charset ?? 'utf-8').decode(bytes);
}

function quotedPrintableBytes(text: string): Buffer {
  const soft = text.replace(/=\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const ch = soft[i];
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?Q?...?=`, `=?UTF-8?B?...?=`) in a header value. */
export function decodeEncodedWords(value: string): string {
  // Whitespace between two adjacent encoded words is not part of the text (RFC 2047 section 6.2).
  const joined = value.replace(/(\?=)\s+(=\?)/g, '$1$2');
  return joined.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_all, charset: string, enc: string, data: string) => {
    const bytes = enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64') : quotedPrintableBytes(data.replace(/_/g, ' '));
    return charsetDecode(bytes, charset);
  });
}

function decodeBody(part: Part): string {
  const encoding = (part.headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const charset = headerParam(part.headers.get('content-type') ?? '', 'charset');
  if (encoding === 'base64') {
    return charsetDecode(Buffer.from(part.body.replace(/\s+/g, ''), 'base64'), charset);
  }
  if (encoding === 'quoted-printable') {
    return charsetDecode(quotedPrintableBytes(part.body), charset);
  }
  return part.body;
}

type Bodies = { text?: string; html?: string; attachments: MimeMessage['attachments'][number][] };

function collectBodies(part: Part, out: Bodies): void {
  const type = part.headers.get('content-type') ?? 'text/plain';
  const mediaType = type.split(';')[0].trim().toLowerCase();
  if (mediaType.startsWith('multipart/')) {
    const boundary = headerParam(type, 'boundary');
    if (!boundary) {
      return;
    }
    const sections = part.body.split(`--${boundary}`);
    // sections[0] is the preamble; the part after the closing "--boundary--" starts with "--".
    for (const section of sections.slice(1)) {
      if (section.startsWith('--')) {
        break;
      }
      collectBodies(splitHeadersAndBody(section.replace(/^\n/, '').replace(/\n$/, '')), out);
    }
    return;
  }
  const disposition = part.headers.get('content-disposition') ?? '';
  const filename = headerParam(disposition, 'filename') ?? headerParam(type, 'name');
  if (/^\s*attachment/i.test(disposition) || filename) {
    const encoding = (part.headers.get('content-transfer-encoding') ?? '').toLowerCase();
    const content = encoding === 'base64' ? Buffer.from(part.body.replace(/\s+/g, ''), 'base64') : Buffer.from(part.body, 'latin1');
    out.attachments.push({ filename: filename ?? '', contentType: mediaType, content });
    return;
  }
  if (mediaType === 'text/plain' && out.text === undefined) {
    out.text = decodeBody(part);
  } else if (mediaType === 'text/html' && out.html === undefined) {
    out.html = decodeBody(part);
  }
}

/** Parses a message as nodemailer writes it (CRLF or LF line ends). */
export function parseMimeMessage(raw: string | Buffer): MimeMessage {
  const top = splitHeadersAndBody(typeof raw === 'string' ? raw : raw.toString('utf8'));
  // The line break that ends the message is framing, as is the one before a multipart boundary: "one" and
  // "one\n" are written alike, so both read back as "one".
  top.body = top.body.replace(/\n$/, '');
  const headers = new Map<string, string>();
  for (const [name, value] of top.headers) {
    headers.set(name, decodeEncodedWords(value));
  }
  const bodies: Bodies = { attachments: [] };
  collectBodies(top, bodies);
  return {
    headers,
    subject: headers.get('subject') ?? '',
    from: headers.get('from') ?? '',
    to: headers.get('to') ?? '',
    ...bodies,
  };
}
