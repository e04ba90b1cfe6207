import path from 'node:path';
import { tokenCommandFor } from './main';

test("the banner's token command names the data folder when it is not the default, so the token is signed with the same key", () => {
  expect(tokenCommandFor({ dataDir: path.resolve('data') })).toBe('npx chartkeeper token --staff');
  expect(tokenCommandFor({ dataDir: '/tmp/d3' })).toBe('npx chartkeeper token --staff --data-dir /tmp/d3');
  expect(tokenCommandFor({ dataDir: "/tmp/Anne's data" })).toBe(`npx chartkeeper token --staff --data-dir '/tmp/Anne'\\''s data'`);
  // SIGNING_KEY signs instead of the folder's key.
  expect(tokenCommandFor({ dataDir: '/tmp/d3', signingKey: 'x'.repeat(64) })).toBe('npx chartkeeper token --staff');
});
