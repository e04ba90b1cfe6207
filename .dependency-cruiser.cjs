/**
 * The layer rules of the house (README "How the code is laid out"), checked in CI by `npm run lint:deps`.
 * Data flows one way: http -> portal/auth -> fhir/ccda -> db; access/ is pure rules; tests may reach anything.
 */
const TEST = '(^test/|\\.test\\.ts$)';

module.exports = {
  forbidden: [
    {
      name: 'fhir-not-above-itself',
      comment: 'The resource layer imports nothing from portal/, auth/, mail/, ccda/, http/ or jobs/: features register into it.',
      severity: 'error',
      from: { path: '^src/fhir/', pathNot: TEST },
      to: { path: '^src/(portal|auth|mail|ccda|http|jobs)/' },
    },
    {
      name: 'ccda-is-pure',
      comment: 'C-CDA conversion is XML in, FHIR out and back: no database, no kysely, no repository, no portal.',
      severity: 'error',
      from: { path: '^src/ccda/', pathNot: TEST },
      to: {
        path: '(^src/(db|portal|auth|http|jobs|mail)/|^src/fhir/(repository|resource-writer|bundle-processor)|node_modules/(kysely|pg|@electric-sql)/)',
      },
    },
    {
      name: 'access-runs-no-query',
      comment: 'access/ returns rules and SQL fragments; whatever executes them is a store in auth/ or fhir/.',
      severity: 'error',
      from: { path: '^src/access/', pathNot: TEST },
      to: { path: '^src/(db|auth|portal|http|jobs|mail)/|^src/fhir/(?!outcomes)' },
    },
    {
      name: 'jobs-not-http',
      comment: 'Jobs run without a request: they never import the HTTP layer.',
      severity: 'error',
      from: { path: '^src/jobs/', pathNot: TEST },
      to: { path: '^src/http/' },
    },
    {
      name: 'auth-not-portal',
      comment: 'Sign-in knows nothing of portal features; the portal builds on auth.',
      severity: 'error',
      from: { path: '^src/auth/', pathNot: TEST },
      to: { path: '^src/portal/' },
    },
    {
      name: 'no-test-code-in-production',
      comment: 'Nothing that ships imports test code.',
      severity: 'error',
      from: { path: '^(src|fixtures|ccda-templates)/', pathNot: TEST },
      to: { path: TEST },
    },
    {
      name: 'no-circular',
      comment: 'No module cycles.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
