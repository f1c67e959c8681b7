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
  // A test that times out can leave what it was waiting on behind (a connection, a worker thread): the run
  // still ends once every test has reported, failed as it should, instead of waiting until CI's own limit.
  forceExit: true,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
