#!/usr/bin/env -S node --max-semi-space-size=64 --min-semi-space-size=64
// Runs the TypeScript CLI through tsx (the Docker image runs the compiled dist/ build directly).
require('tsx/cjs');
const { main } = require('../src/cli/main.ts');
main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`chartkeeper: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
