/** The openGauss integration test (npm run test:opengauss): needs OPENGAUSS_URL, not Temporal. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/opengauss'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 120000,
};
