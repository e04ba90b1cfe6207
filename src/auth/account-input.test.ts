/** Reading account request bodies: unknown fields refused, limits, the password twice, levels and relationships. */
import {
  grantLevelField,
  newPassword,
  normalizeSecurityAnswer,
  readFields,
  relationshipField,
  requiredEmail,
  requiredPastDate,
  securityOptionFields,
} from './account-input';

const expression = (fn: () => unknown): [number, string | undefined] => {
  try {
    fn();
  } catch (err: any) {
    return [err.status, err.outcome.issue[0].expression?.[0]];
  }
  throw new Error('expected a 400');
};

describe('account input', () => {
  it('refuses unknown fields and non-objects, naming the field', () => {
    expect(expression(() => readFields({ email: 'a@b.example', pasword: 'x' }, ['email', 'password']))).toEqual([400, 'pasword']);
    expect(expression(() => readFields([], ['email']))).toEqual([400, undefined]);
    expect(expression(() => readFields({ x: 1 }, ['y'], 'requester.'))).toEqual([400, 'requester.x']);
  });

  it('normalizes emails and refuses lists, names and over-long addresses', () => {
    expect(requiredEmail({ email: '  Ada.Park@Example.COM ' })).toBe('ada.park@example.com');
    for (const bad of ['a@b', 'Ada <a@b.example>', 'a@b.example, c@d.example', `${'x'.repeat(250)}@b.example`]) {
      expect(expression(() => requiredEmail({ email: bad }))).toEqual([400, 'email']);
    }
  });

  it('takes only real past dates', () => {
    expect(requiredPastDate({ d: '2024-02-29' }, 'd', '2026-01-01')).toBe('2024-02-29');
    for (const bad of ['2023-02-29', '2027-01-01', '01/02/2020', ''])
      expect(expression(() => requiredPastDate({ d: bad }, 'd', '2026-01-01'))).toEqual([400, 'd']);
  });

  it('needs the new password twice when asked, equal, and within the policy', () => {
    expect(newPassword({ password: 'correct horse battery staple', passwordConfirmation: 'correct horse battery staple' }, {})).toBe(
      'correct horse battery staple',
    );
    expect(expression(() => newPassword({ password: 'correct horse battery staple' }, {}))).toEqual([400, 'passwordConfirmation']);
    expect(newPassword({ password: 'correct horse battery staple' }, {}, { confirmation: 'optional' })).toBe(
      'correct horse battery staple',
    );
    expect(
      expression(() =>
        newPassword({ password: 'correct horse battery staple', passwordConfirmation: 'other' }, {}, { confirmation: 'optional' }),
      ),
    ).toEqual([400, 'passwordConfirmation']);
    expect(
      expression(() =>
        newPassword(
          { password: 'adapark-is-my-password', passwordConfirmation: 'adapark-is-my-password' },
          { email: 'adapark@example.com' },
        ),
      ),
    ).toEqual([400, 'password']);
  });

  it('reads grant levels, relationships and the security option', () => {
    expect(grantLevelField({}, 'level', 'full')).toBe('full');
    expect(expression(() => grantLevelField({ level: 'admin' }))).toEqual([400, 'level']);
    expect(relationshipField({ relationship: 'mth' })).toBe('MTH');
    expect(relationshipField({})).toBe('FAMMEMB');
    expect(expression(() => relationshipField({ relationship: 'BOSS' }))).toEqual([400, 'relationship']);
    expect(securityOptionFields({})).toBeUndefined();
    expect(expression(() => securityOptionFields({ securityQuestion: 'Pet?' }))).toEqual([400, 'securityAnswer']);
    expect(normalizeSecurityAnswer('  Élm   STREET ')).toBe('elm street');
  });
});
