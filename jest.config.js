/** Jest: TypeScript through swc; one test file at a time, each in a fresh worker process (the
 * Temporal SDK's native runtime cannot be shared by several files in one process). */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'], '^.+\\.js$': ['@swc/jest'] },
  // ESM-only dependencies (content-disposition, cookie) are compiled to CommonJS for jest.
  transformIgnorePatterns: ['/node_modules/(?!(content-disposition|cookie)/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testSequencer: '<rootDir>/test/sequencer.js',
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.data/'],
  maxWorkers: 1,
  workerIdleMemoryLimit: '10MB',
  testTimeout: 60_000,
  verbose: true,
  reporters: ['default', '<rootDir>/test/shared-system-reporter.js', '<rootDir>/test/summary-reporter.js'],
};
