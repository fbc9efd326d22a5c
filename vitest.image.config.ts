import { defineConfig } from 'vitest/config';

// The container image's test (test/image/, run by scripts/ci-image.sh, not by `npm test`):
// one file that builds the image (minutes) and runs it, with its own PostgreSQL and S3
// server; none of the main suite's global setup.
export default defineConfig({
  test: {
    include: ['test/image/**/*.spec.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 25 * 60_000,
    teardownTimeout: 120_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
