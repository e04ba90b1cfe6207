import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SECTION_DEFINITIONS } from '../../../ccda-templates';
import { demoFamilyCcdInputs } from '../../../test/support/ccda/ccd-demo-inputs';
import { TEST_ORG, TEST_PATIENT, TEST_RESOURCES } from '../../../test/support/ccda/ccd-test-record';
import { renderCcd } from '../render/render-ccd';
import { renderCcdHtml } from './render-ccd-html';

const NOW = new Date('2026-11-21T12:00:00Z');
const xml = renderCcd({ patient: TEST_PATIENT, resources: TEST_RESOURCES, custodian: TEST_ORG, documentId: 'html-test', now: NOW });
const html = renderCcdHtml(xml);

describe('renderCcdHtml', () => {
  it('is a self-contained page: no scripts, no external resources, a CSP that forbids them', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//i);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
  });

  it('shows the header: patient, birth date, race, period, custodian', () => {
    expect(html).toContain('<dt>Patient</dt><dd>Mary Ann O&apos;Brien &amp; Sons</dd>');
    expect(html).toContain('<dt>Date of birth</dt><dd>1984-03-14</dd>');
    expect(html).toContain('<dt>Race</dt><dd>White, Asian</dd>');
    expect(html).toContain('<dt>Preferred language</dt><dd>English</dd>');
    expect(html).toContain('<dt>Contact</dt><dd>(206)555-0142, mary@example.com</dd>');
    // The software assembled the document; the practice is who wrote to the patient.
    expect(html).toContain('<dt>Author</dt><dd>Lakeside Clinic</dd>');
    expect(html).toContain('<dt>Care team</dt><dd>Dr. Grace Lee</dd>');
    expect(html).toContain('<dt>Custodian</dt><dd>Lakeside Clinic</dd>');
  });

  it("reads as a patient expects (Ada's record): languages by name, plain phone numbers, printed units, drug names, local times", () => {
    const ada = demoFamilyCcdInputs(NOW).find((d) => d.key === 'ada');
    if (!ada) return;
    const page = renderCcdHtml(
      renderCcd({ patient: ada.patient, resources: ada.resources, custodian: ada.custodian, documentId: 'ada', now: NOW }),
      { timeZone: 'America/Los_Angeles' },
    );
    expect(page).toContain('<dt>Preferred language</dt><dd>English, Korean</dd>');
    expect(page).not.toMatch(/tel:|mailto:/);
    expect(page).toContain('<dt>Author</dt><dd>Westside Family Medicine</dd>');
    expect(page).toContain('<dt>Document created</dt><dd>2026-11-21 04:00</dd>');
    expect(page).toMatch(/<td>\d+(\.\d+)? 10³\/µL<\/td>/);
    expect(page).not.toContain('10*3/uL');
    expect(page).toContain('>0.3 ML Epinephrine 1 MG/ML Auto-Injector</td>');
    expect(page).not.toContain('NDA020800');
    // Times as the practice's clock read them, to the minute: no seconds, no offsets.
    expect(page).not.toMatch(/\d{2}:\d{2}:\d{2}/);
    expect(page).not.toMatch(/\d{2}:\d{2} ?([+-]\d{2}:\d{2}|UTC)/);
    expect(page).toMatch(/<td>\d{4}-\d{2}-\d{2} \d{2}:\d{2}<\/td>/);
  });

  it('lists every section in an index linking to it', () => {
    const titles = SECTION_DEFINITIONS.filter((d) => d.whenEmpty !== 'omit').map((d) => d.title);
    const index = [...html.matchAll(/<li><a href="#(section-\d+)">([^<]*)<\/a><\/li>/g)];
    expect(index.map((m) => m[2])).toEqual(titles);
    for (const [, id] of index) expect(html).toContain(`<section id="${id}" aria-labelledby="${id}-title">`);
  });

  it('renders the narrative tables with captions and column headers', () => {
    expect(html).toContain(
      '<table><caption>Allergies and Intolerances</caption><thead><tr><th scope="col">Substance</th><th scope="col">Type</th>',
    );
    expect(html).toContain('<td id="allergies-1-name">Penicillin</td>');
    expect(html).toContain('<td>Hives (moderate)</td>');
  });

  it('escapes what the document contains', () => {
    const hostile = renderCcd({
      patient: { ...TEST_PATIENT, name: [{ family: '<script>alert(1)</script>', given: ['"x"'] }] },
      resources: [
        { resourceType: 'Condition', id: 'c', subject: { reference: 'Patient/p1' }, code: { text: '<img src=x onerror=alert(1)>' } },
      ],
      custodian: TEST_ORG,
      documentId: 'x',
      now: NOW,
    });
    const out = renderCcdHtml(hostile);
    expect(out).not.toContain('<script>');
    expect(out).not.toContain('<img');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('shows the same narrative whatever comments or entries the document holds', () => {
    const withComment = xml.replace('<component><structuredBody>', '<component><!-- an <entry> in a comment --><structuredBody>');
    expect(renderCcdHtml(withComment)).toBe(html);
  });

  it('refuses what is not a CDA document', () => {
    expect(() => renderCcdHtml('<html><body/></html>')).toThrow('Not a CDA document');
  });
});

const chromium = ['chromium', 'chromium-browser'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
if (!chromium) console.warn('Skipping the headless Chromium check of the HTML preview: chromium is not installed');
const withBrowser = chromium ? describe : describe.skip;

withBrowser('HTML preview in headless Chromium', () => {
  it("shows every section title of Ada's all-time CCD (or the test record's when the demo family is absent)", () => {
    const ada = demoFamilyCcdInputs(NOW).find((d) => d.key === 'ada');
    const input = ada
      ? { patient: ada.patient, resources: ada.resources, custodian: ada.custodian, documentId: 'ada-all', now: NOW }
      : { patient: TEST_PATIENT, resources: TEST_RESOURCES, custodian: TEST_ORG, documentId: 'test-all', now: NOW };
    const dir = mkdtempSync(path.join(tmpdir(), 'ccd-html-'));
    const file = path.join(dir, 'ccd.html');
    const page = renderCcdHtml(renderCcd(input), { timeZone: 'America/Los_Angeles' });
    writeFileSync(file, page);
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'];
    const dom = spawnSync(chromium as string, [...flags, '--dump-dom', `file://${file}`], { encoding: 'utf8', timeout: 60_000 });
    const shown = [...dom.stdout.matchAll(/<h2 id="section-\d+-title">([^<]*)<\/h2>/g)].map((m) => m[1]);
    const expected = SECTION_DEFINITIONS.filter((d) => d.whenEmpty !== 'omit' || page.includes(`>${d.title}</h2>`)).map((d) => d.title);
    expect(shown).toEqual(expected);
    const shot = path.join(dir, 'ccd.png');
    spawnSync(chromium as string, [...flags, `--screenshot=${shot}`, '--window-size=1200,2400', `file://${file}`], { timeout: 60_000 });
    const png = readFileSync(shot);
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    console.log(`HTML preview screenshot: ${shot}`);
  }, 120_000);
});
