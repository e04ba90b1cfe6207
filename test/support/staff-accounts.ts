/**
 * Staff accounts a test adds besides the demo family's (Dr. Maya Chen): another organisation's front desk, say, to show
 * what staff of one practice do not see of another's.
 */
import { AccountStore } from '../../src/auth/account-store';
import { hashPassword } from '../../src/auth/password-hash';
import { type AuthTestApp, GOOD_PASSWORD, TEST_PASSWORD_PARAMS } from '../auth-test-app';

/** A staff account to create: its sign-in email, the name it goes by, and the organisation whose records it sees. */
export interface NewStaffAccount {
  readonly email: string;
  readonly displayName: string;
  readonly organizationId: string;
}

/** Creates a staff account with the password GOOD_PASSWORD and signs it in: the /auth/login token response. */
export async function signInNewStaff(app: AuthTestApp, staff: NewStaffAccount): Promise<any> {
  await new AccountStore(app.database.db, app.clock).create({
    ...staff,
    kind: 'staff',
    passwordHash: await hashPassword(GOOD_PASSWORD, TEST_PASSWORD_PARAMS),
  });
  return app.login(staff.email, GOOD_PASSWORD);
}
