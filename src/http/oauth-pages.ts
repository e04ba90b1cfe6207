/**
 * The SMART sign-in pages: plain server-rendered HTML forms, no scripts, every field labelled, usable with the
 * keyboard alone. Each page names the app asking, so a person knows whom they are letting in.
 */
import type { ConsentPlan, PatientChoice } from '../auth/smart/smart-authorization';
import { escapeHtml as esc } from '../auth/smart/smart-provider';

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
label{display:block;margin:.75rem 0 .25rem}input[type=email],input[type=password],input[type=search]{width:100%;padding:.5rem;font:inherit}
button{font:inherit;padding:.5rem 1rem;margin:1rem .5rem 0 0}:focus{outline:3px solid #1d4ed8;outline-offset:2px}
.error{color:#b91c1c;border-left:4px solid #b91c1c;padding-left:.5rem}fieldset{margin:1rem 0}code{background:#f3f4f6}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} – Chartkeeper</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

/** The sign-in form of interaction `uid`. */
export function loginPage(uid: string, clientName: string, error?: string): string {
  return page(
    'Sign in',
    `<h1>Sign in to Chartkeeper</h1><p><strong>${esc(clientName)}</strong> asks to use your health record.</p>
${error ? `<p class="error" role="alert" id="error">${esc(error)}</p>` : ''}
<form method="post" action="/oauth/interaction/${esc(uid)}/login">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required autofocus${error ? ' aria-describedby="error"' : ''}>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>
<form method="post" action="/oauth/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`,
  );
}

/** Staff choosing a patient: what they searched for (empty before the first search). */
export interface StaffPatientSearch {
  readonly query: string;
}

/**
 * The consent form: the record to open (when there is a choice; staff search their organisation's patients first)
 * and what the app will be able to do.
 */
export function consentPage(
  uid: string,
  clientName: string,
  plan: ConsentPlan,
  choices: readonly PatientChoice[] | undefined,
  error?: string,
  staffSearch?: StaffPatientSearch,
): string {
  const search = staffSearch
    ? `<form method="get" action="/oauth/interaction/${esc(uid)}" role="search">
<label for="q">Find the patient whose record ${esc(clientName)} should open (name, birth date as YYYY-MM-DD, or identifier)</label>
<input id="q" name="q" type="search" maxlength="100" value="${esc(staffSearch.query)}"${staffSearch.query ? '' : ' autofocus'}>
<button type="submit">Search</button></form>
${staffSearch.query && !choices?.length ? `<p role="status">No patient of your organisation matches “${esc(staffSearch.query)}”.</p>` : ''}`
    : '';
  const records = choices?.length
    ? `<fieldset><legend>Whose record should ${esc(clientName)} open?</legend>${choices
        .map(
          (c, i) =>
            `<div><input type="radio" id="patient-${i}" name="patient" value="${esc(c.id)}"${i === 0 ? ' required' : ''}${choices.length === 1 ? ' checked' : ''}><label for="patient-${i}" style="display:inline">${esc(c.name)}${c.self ? ' (you)' : ''}${c.level === 'full' ? '' : ` – ${esc(c.level)} access only`}</label></div>`,
        )
        .join('')}</fieldset>`
    : '';
  const rows = plan.resourceScopes
    .map(
      (s) =>
        `<li><code>${esc(s.asked)}</code>${s.given === s.asked ? '' : s.given ? ` – given as <code>${esc(s.given)}</code>` : ' – not given: your account cannot do this'}</li>`,
    )
    .concat(plan.otherScopes.map((s) => `<li><code>${esc(s)}</code> – ${esc(OTHER_SCOPE_TEXT[s] ?? s)}</li>`))
    .join('');
  return page(
    'Allow access',
    `<h1>Allow ${esc(clientName)}?</h1>${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}${search}
<form method="post" action="/oauth/interaction/${esc(uid)}/consent">${records}
<p>${esc(clientName)} asks to:</p><ul>${rows || '<li>sign you in</li>'}</ul>
<p>It will never see more than your account may see today.</p>
<button type="submit" name="decision" value="approve">Allow</button><button type="submit" name="decision" value="deny">Deny</button></form>`,
  );
}

const OTHER_SCOPE_TEXT: Record<string, string> = {
  openid: 'know who you are',
  fhirUser: 'know your FHIR record (Patient or Practitioner)',
  profile: 'know your name',
  offline_access: 'keep access after you close it, until you revoke it',
  online_access: 'keep access while you are signed in',
  'launch/patient': 'open the record you choose',
  launch: 'be launched from Chartkeeper',
};

/** The Content-Security-Policy of a page: its own inline style, forms posting here and on to the app's redirect URI. */
export function pagePolicy(redirectUri: unknown): string {
  let origin = '';
  try {
    if (typeof redirectUri === 'string') origin = ` ${new URL(redirectUri).origin}`;
  } catch {
    // no valid redirect URI: the form may only post here
  }
  return `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${origin}; frame-ancestors 'none'; base-uri 'none'`;
}
