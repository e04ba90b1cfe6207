/**
 * The one layout every Chartkeeper email shares: plain text first (many patients read mail in clients that
 * show only text), the same words as simple HTML, a single link or code, and a footer saying there is no
 * health information inside. Templates pass plain strings; everything is escaped here.
 */

/** A finished email, ready for `Mailer.send` once a recipient is added. */
export interface RenderedEmail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** What a template says, before layout. */
export interface EmailContent {
  readonly organizationName: string;
  readonly subject: string;
  readonly greeting?: string;
  readonly paragraphs: readonly string[];
  /** A button (HTML) / a labelled URL line (text). */
  readonly action?: { readonly label: string; readonly url: string };
  /** A code shown large on its own line. */
  readonly code?: string;
  readonly closing?: readonly string[];
  /** The last line, when the usual one ("It contains no health information") is not true: a record sent on request. */
  readonly footer?: string;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Returns the URL if it is an absolute http(s) URL; anything else (javascript:, relative) is a bug. */
export function assertWebUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new RangeError(`Email links must be http(s) URLs, got ${parsed.protocol}`);
  }
  return url;
}

/** An instant as people read it in the organization's zone, e.g. "Nov 22, 2026, 7:30 PM EST". */
export function formatInstant(instant: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone })
    .format(instant)
    .replace(/[\u202f\u00a0]/g, ' ')
    .concat(' ', timeZoneShortName(instant, timeZone));
}

function timeZoneShortName(instant: Date, timeZone: string): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'short' })
    .formatToParts(instant)
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? timeZone;
}

/** A calendar date (YYYY-MM-DD) in words, e.g. "December 1, 2026". */
export function formatCalendarDate(date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) {
    throw new RangeError(`Not a YYYY-MM-DD date: ${date}`);
  }
  return new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' }).format(
    new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))),
  );
}

function footer(organizationName: string): string {
  return `This message was sent by ${organizationName}. It contains no health information. ` + 'Please do not reply to this email.';
}

/** Lays out an email as text and HTML with the same words. */
export function renderEmail(content: EmailContent): RenderedEmail {
  if (/[\r\n]/.test(content.subject)) {
    throw new RangeError('Email subject must be one line');
  }
  const action = content.action ? { label: content.action.label, url: assertWebUrl(content.action.url) } : undefined;
  const blocks: string[] = [];
  const htmlBlocks: string[] = [];
  const p = (text: string) => `<p style="margin:0 0 16px">${escapeHtml(text)}</p>`;
  if (content.greeting) {
    blocks.push(content.greeting);
    htmlBlocks.push(p(content.greeting));
  }
  for (const paragraph of content.paragraphs) {
    blocks.push(paragraph);
    htmlBlocks.push(p(paragraph));
  }
  if (content.code) {
    blocks.push(`    ${content.code}`);
    htmlBlocks.push(
      `<p style="margin:0 0 16px;font-size:24px;font-weight:bold;letter-spacing:4px;font-family:monospace">${escapeHtml(content.code)}</p>`,
    );
  }
  if (action) {
    blocks.push(`${action.label}: ${action.url}`);
    htmlBlocks.push(
      `<p style="margin:0 0 16px"><a href="${escapeHtml(action.url)}" style="display:inline-block;padding:10px 16px;` +
        `background:#1f5fa8;color:#ffffff;text-decoration:none;border-radius:4px">${escapeHtml(action.label)}</a></p>` +
        `<p style="margin:0 0 16px;font-size:12px;color:#555">${escapeHtml(action.url)}</p>`,
    );
  }
  for (const paragraph of content.closing ?? []) {
    blocks.push(paragraph);
    htmlBlocks.push(p(paragraph));
  }
  const foot = content.footer ?? footer(content.organizationName);
  const text = `${blocks.join('\n\n')}\n\n--\n${foot}\n`;
  const html =
    '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;color:#222;line-height:1.4">' +
    `<h1 style="font-size:18px;margin:0 0 16px">${escapeHtml(content.organizationName)}</h1>` +
    htmlBlocks.join('') +
    `<hr style="border:none;border-top:1px solid #ddd;margin:24px 0 8px"><p style="font-size:12px;color:#666">${escapeHtml(foot)}</p>` +
    '</body></html>';
  return { subject: content.subject, text, html };
}
