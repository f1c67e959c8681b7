/** Integration tests share one Temporal dev server and one PostgreSQL: run them in band (npm test). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // test/oracle needs a real Oracle (npm run test:oracle), test/opengauss a real openGauss (npm run test:opengauss)
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/oracle/', '<rootDir>/test/opengauss/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
