import { defineConfig } from 'vitest/config';

// Two cores: run test files two at a time. Integration tests share one PostgreSQL and
// one S3 server started by the global setup, and keep apart by unique account ids.
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    // Every response a test receives through fetch is checked against docs/openapi.json's contract.
    setupFiles: ['test/support/contract-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    // The JSON report lets .ci/run print a plain 'N passed, N failed' closing line.
    reporters: ['default', ['json', { outputFile: 'test-results/results.json' }]],
    // The AWS SDK's notice that its 2027 releases need Node 22 is documented in the
    // README; in test output it is only noise.
    // The S3 test server (s3rver) takes these credentials; the service reads them from
    // the environment through the AWS SDK's usual chain, as in production.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
    projects: [
      { extends: true, test: { name: 'main', include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/browser/**/*.test.ts'] } },
      // Whole fleets, long soaks and big transfers: after the rest, one file at a time, so
      // their timings are not the other tests' contention.
      { extends: true, test: { name: 'soak', include: ['test/soak/**/*.test.ts'], sequence: { groupOrder: 1 }, maxWorkers: 1 } },
    ],
  },
});
