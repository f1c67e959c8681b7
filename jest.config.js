/** Integration tests share one Temporal dev server and one PostgreSQL: run them in band (npm test). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // test/oracle needs a real Oracle: npm run test:oracle
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/oracle/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
