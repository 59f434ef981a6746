// The import graph's rules (test/architecture/imports.test.ts runs them): no cycles, and the shared layers
// (http/, db/, geo/) never reach up into a domain. Shared besides them: auth/ (tokens and roles, which http/auth
// checks), events/, idempotency/ and the top-level config, errors, logger and deps. Every other folder of server/
// is a domain, so a new one is covered without editing this file.
const shared = '^server/(http|db|geo|auth|events|idempotency|types)/|^server/(config|errors|logger|deps)\\.ts$';

module.exports = {
  forbidden: [
    { name: 'no-cycle', severity: 'error', comment: 'Files that import each other cannot be read or tested one at a time.', from: {}, to: { circular: true } },
    {
      name: 'shared-layer-up-into-domain',
      severity: 'error',
      comment: 'http/, db/ and geo/ serve every domain; a domain is reached from them only through what is passed in.',
      from: { path: '^server/(http|db|geo)/' },
      to: { path: '^server/', pathNot: shared },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
