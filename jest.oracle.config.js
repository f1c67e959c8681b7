/** The Oracle integration test (npm run test:oracle): needs ORACLE_URL, not PostgreSQL or Temporal. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/oracle'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 120000,
};
