import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, Observation } from '@medplum/fhirtypes';

/** A collection Bundle: a Patient and a glucose Observation about them (by urn:uuid). */
export function patientCollection(family: string, glucose: number): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: `urn:uuid:${family}-p`,
        resource: { resourceType: 'Patient', name: [{ family, given: ['Ada'] }], birthDate: '1984-05-02' },
      },
      {
        fullUrl: `urn:uuid:${family}-o`,
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose' }] },
          subject: { reference: `urn:uuid:${family}-p` },
          effectiveDateTime: '2026-01-02T08:00:00Z',
          valueQuantity: { value: glucose, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
        },
      },
    ],
  };
}

/**
 * A temporary folder of four import files, a.json to d.json, each a patientCollection (families Alpha, Beta, Gamma,
 * Delta). c.json holds a valid Patient and then an Observation with an unknown status, so that whole file must fail:
 * 3 of 4 files, 6 resources, land.
 */
export function writeImportFiles(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-import-'));
  fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify(patientCollection('Alpha', 90)));
  fs.writeFileSync(path.join(dir, 'b.json'), JSON.stringify(patientCollection('Beta', 110)));
  const bad = patientCollection('Gamma', 130);
  (bad.entry![1].resource as Observation).status = 'done' as Observation['status'];
  fs.writeFileSync(path.join(dir, 'c.json'), JSON.stringify(bad));
  fs.writeFileSync(path.join(dir, 'd.json'), JSON.stringify(patientCollection('Delta', 150)));
  return dir;
}
