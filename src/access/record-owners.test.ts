import { isUploaderOwner, ownerParams, ownersFrom, uploaderOwner } from './record-owners';

test('the owner link of a type: patient, else subject, else the own choices, else every link', () => {
  expect(ownerParams('Condition', ['patient', 'asserter'])).toEqual(['patient']);
  expect(ownerParams('Observation', ['subject', 'performer'])).toEqual(['subject']);
  expect(ownerParams('Invoice', ['subject', 'patient', 'recipient'])).toEqual(['patient']);
  expect(ownerParams('Appointment', ['actor'])).toEqual(['actor']);
  expect(ownerParams('Coverage', ['policy-holder', 'subscriber', 'beneficiary', 'payor'])).toEqual(['beneficiary']);
  expect(ownerParams('Something', ['a', 'b'])).toEqual(['a', 'b']);
});

test('owners: the patients the owner link names, else every patient of the compartments', () => {
  expect(ownersFrom(['cara', 'ada'], ['cara'])).toEqual(['cara']);
  expect(ownersFrom(['cara', 'ada'], ['cara', 'ada', 'cara'])).toEqual(['cara', 'ada']);
  expect(ownersFrom(['ada'], [])).toEqual(['ada']);
  expect(ownersFrom([], [])).toEqual([]);
});

test('an upload outside every record is its organisation’s, or with none the operator’s', () => {
  expect([uploaderOwner('org-1'), uploaderOwner(undefined)]).toEqual(['Organization/org-1', 'Organization/']);
  expect([isUploaderOwner('Organization/org-1'), isUploaderOwner('p-ada')]).toEqual([true, false]);
});
