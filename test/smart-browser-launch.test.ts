/**
 * Issue 20, proof in a real browser: a SMART app built on the `fhirclient` npm package (its browser build, unchanged),
 * served from its own origin, goes through a standalone launch in headless Chromium: authorize -> Ada signs in with the
 * keyboard alone -> picks Ben -> approves `patient/*.rs openid fhirUser offline_access` -> the app reads Ben's
 * Immunizations; a refresh works; Cara's record is refused to the token. Skips when Chromium is not installed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { addClient } from '../src/auth/smart/oauth-clients';
import { DEMO_PASSWORD } from '../fixtures/demo-family';
import { type SmartTestApp, startSmartTestApp } from './support/smart-test-app';

const chromium = ['chromium', 'chromium-browser']
  .map((c) => spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).stdout.trim())
  .find(Boolean);
if (!chromium) console.warn('Skipping the SMART launch in headless Chromium: chromium is not installed');
const withBrowser = chromium ? describe : describe.skip;

/** The app's two pages: launch (authorize) and the redirect target (ready, then read). */
function appPages(fhirBase: string, clientId: string, ids: { ben: string; cara: string }): Record<string, string> {
  const head =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Growth Chart</title><script src="/fhir-client.js"></script></head><body>';
  return {
    '/launch.html': `${head}<script>FHIR.oauth2.authorize({ clientId: ${JSON.stringify(clientId)}, scope: 'launch/patient patient/*.rs openid fhirUser offline_access', redirectUri: '/app.html', iss: ${JSON.stringify(fhirBase)}, pkceMode: 'required' });</script></body></html>`,
    '/app.html': `${head}<pre id="out"></pre><script>
      FHIR.oauth2.ready().then(async (client) => {
        const result = { patient: client.patient.id, fhirUser: client.getFhirUser(), scope: client.state.tokenResponse.scope };
        const shots = await client.request('Immunization?patient=' + client.patient.id, { flat: true, pageLimit: 0 });
        result.immunizations = shots.length;
        result.immunizationPatients = [...new Set(shots.map((s) => s.patient.reference))];
        const before = client.state.tokenResponse.access_token;
        await client.refresh();
        result.refreshed = client.state.tokenResponse.access_token !== before;
        result.afterRefresh = (await client.request('Immunization?patient=' + client.patient.id, { flat: true, pageLimit: 0 })).length;
        try { await client.request('Patient/${ids.cara}'); result.cara = 'read'; } catch (e) { result.cara = e.status; }
        result.caraConditions = (await client.request('Condition?patient=${ids.cara}', { flat: true })).length;
        document.getElementById('out').textContent = JSON.stringify(result);
        document.title = 'done';
      }).catch((e) => { document.getElementById('out').textContent = JSON.stringify({ error: String(e) }); document.title = 'done'; });
    </script></body></html>`,
  };
}

withBrowser('SMART standalone launch with fhirclient in headless Chromium', () => {
  let app: SmartTestApp;
  let appServer: Server;
  let browser: Browser;
  let appOrigin: string;
  let ids: { ada: string; ben: string; cara: string };

  beforeAll(async () => {
    app = await startSmartTestApp();
    const ada = await app.login('ada.park@example.com', DEMO_PASSWORD);
    const patients = (await app.read('Patient?_count=50', ada.access_token)).body.entry.map((e: any) => e.resource);
    const named = (given: string) => patients.find((p: any) => p.name?.[0]?.given?.[0] === given)?.id as string;
    ids = { ada: named('Ada'), ben: named('Ben'), cara: named('Cara') };
    // The app lives on its own origin (localhost, another port): every call to Chartkeeper is cross-origin.
    appServer = createServer();
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', () => resolve()));
    const address = appServer.address();
    appOrigin = `http://localhost:${typeof address === 'object' && address ? address.port : 0}`;
    const clientId = (await addClient(app.database.db, { name: 'Growth Chart', redirectUris: [`${appOrigin}/app.html`], public: true }))
      .clientId;
    const pages = appPages(app.fhir, clientId, ids);
    const library = readFileSync(path.join(__dirname, '..', 'node_modules', 'fhirclient', 'build', 'fhir-client.js'));
    appServer.on('request', (req, res) => {
      const pathname = new URL(req.url ?? '/', appOrigin).pathname;
      if (pathname === '/fhir-client.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(library);
      else if (pages[pathname]) res.writeHead(200, { 'Content-Type': 'text/html' }).end(pages[pathname]);
      else res.writeHead(404).end();
    });
    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (appServer ? appServer.close(() => resolve()) : resolve()));
    await app?.close();
  });

  it('authorize -> sign in as Ada (keyboard) -> pick Ben -> approve -> read Ben’s Immunizations, refresh, Cara refused', async () => {
    const page = await browser.newPage();
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused/i.test(m.text())) blocked.push(m.text());
    });
    await page.goto(`${appOrigin}/launch.html`);
    await page.waitForSelector('input[name=email]', { timeout: 30_000 });
    expect(page.url().startsWith(`${app.url}/oauth/interaction/`)).toBe(true);
    // The email field has the focus; Tab to the password, Enter submits.
    await page.keyboard.type('ada.park@example.com');
    await page.keyboard.press('Tab');
    await page.keyboard.type(DEMO_PASSWORD);
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    await page.waitForSelector('input[name=patient]');
    expect(await page.$eval('h1', (h) => h.textContent)).toBe('Allow Growth Chart?');
    // Pick Ben by his label, then Allow (the first button).
    const labels = await page.$$eval('label', (ls) => ls.map((l) => ({ for: l.getAttribute('for'), text: l.textContent })));
    const ben = labels.find((l) => l.text?.startsWith('Ben Park'));
    expect(ben).toBeDefined();
    await page.focus(`#${ben!.for}`);
    await page.keyboard.press('Space');
    await Promise.all([page.waitForNavigation(), page.click('button[value=approve]')]);
    await page.waitForFunction('document.title === "done"', { timeout: 60_000 });
    const result = JSON.parse((await page.$eval('#out', (o) => o.textContent)) as string);
    expect(result).toMatchObject({
      patient: ids.ben,
      fhirUser: `Patient/${ids.ada}`,
      immunizationPatients: [`Patient/${ids.ben}`],
      refreshed: true,
      cara: 404,
      caraConditions: 0,
    });
    expect(result.immunizations).toBeGreaterThan(0);
    expect(result.afterRefresh).toBe(result.immunizations);
    expect(result.scope.split(' ').sort()).toEqual(['fhirUser', 'launch/patient', 'offline_access', 'openid', 'patient/*.rs']);
    expect(blocked).toEqual([]);
  }, 120_000);
});
