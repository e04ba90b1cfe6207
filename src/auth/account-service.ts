import type { AccountContext } from './account-context';
import { AccountStore } from './account-store';
import type { SessionService } from './session-service';
import { SecretStore } from './account-secrets';
import { ThrottleStore } from './throttle-store';

/** What the account services share: their context, the session service, and the stores over the context's database and clock. */
export abstract class AccountService {
  protected readonly accounts: AccountStore;
  protected readonly secrets: SecretStore;
  protected readonly throttle: ThrottleStore;

  constructor(
    protected readonly context: AccountContext,
    protected readonly sessions: SessionService,
  ) {
    this.accounts = new AccountStore(context.db, context.clock);
    this.secrets = new SecretStore(context.db, context.clock);
    this.throttle = new ThrottleStore(context.db, context.clock);
  }
}
