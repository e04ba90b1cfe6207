/** Jest: @swc/jest transforms TypeScript; `npm run typecheck` (tsc --noEmit) does the type checking. */
const swc = ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }];
/**
 * ES-module-only packages (oidc-provider and what it imports; openid-client for the tests) that Jest's CommonJS runtime cannot require on Node 20;
 * they are compiled to CommonJS like our own files. Node itself loads them natively (require of ESM, Node 20.19+).
 */
const ESM_PACKAGES = [
  'oidc-provider',
  'got',
  '@sindresorhus/is',
  '@szmarczak/http-timer',
  'cacheable-lookup',
  'cacheable-request',
  'mimic-response',
  'normalize-url',
  'responselike',
  'lowercase-keys',
  'form-data-encoder',
  'p-cancelable',
  'nanoid',
  'quick-lru',
  'openid-client',
  'oauth4webapi',
  'jose',
];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/fixtures', '<rootDir>/ccda-templates'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': swc, [`/node_modules/(${ESM_PACKAGES.join('|')})/.+\\.js$`]: swc },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
  testTimeout: 60000,
  // Two cores here: one worker per core (jest's default leaves one idle); tests wait on the database a lot.
  maxWorkers: 2,
};
