/** The authenticator's memory of verified tokens: it saves re-verifying a token, and keeps only those still valid. */
import { FixedClock } from '../fhir/clock';
import { ACCESS_TOKEN_TTL_SECONDS, generateSigningKey, signAccessToken } from './access-token';
import { TokenAuthenticator } from './token-authenticator';

test('tokens are remembered while they are valid, and forgotten once expired', async () => {
  const clock = new FixedClock(new Date('2026-12-01T09:00:00Z'));
  const key = generateSigningKey();
  const authenticator = new TokenAuthenticator(key, clock);
  const sign = () => signAccessToken({ sub: 'system:test', kind: 'system' }, key, { clock });

  const morning = await Promise.all(Array.from({ length: 50 }, sign));
  for (const token of morning) expect((await authenticator.authenticate(token)).kind).toBe('system');
  expect(authenticator.rememberedTokens).toBe(50);

  // A lifetime later the morning's tokens have expired: the next token verified pushes them all out.
  clock.advance(ACCESS_TOKEN_TTL_SECONDS * 1000 + 1);
  await authenticator.authenticate(await sign());
  expect(authenticator.rememberedTokens).toBe(1);
  await expect(authenticator.authenticate(morning[0])).rejects.toThrow('The access token has expired');
});
