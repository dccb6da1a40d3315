// jest.config.js: TypeScript tests through ts-jest; the addon is shared by all test files of a
// worker (jest loads .node files with the host require), so tests never assume a fresh addon.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  testTimeout: 120000,
  maxWorkers: 2,
};
