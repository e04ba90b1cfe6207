/** Jest: @swc/jest transforms TypeScript; `npm run typecheck` (tsc --noEmit) does the type checking. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/fixtures', '<rootDir>/ccda-templates'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  testTimeout: 60000,
  // Two cores here: one worker per core (jest's default leaves one idle); tests wait on the database a lot.
  maxWorkers: 2,
};
