// jest.config.js: TypeScript tests through ts-jest; the addon is shared by all test files of a
// worker (jest loads .node files with the host require), so tests never assume a fresh addon.
//
// Two projects say which suites run on which devices:
//   devices  the suites that run once per device (and per SIMD level on the cpu) through
//            test/util/devices.ts: every test/ops, test/device and test/model suite except the
//            host-only ones in HOST_ONLY. scripts/test.mjs runs this project a second time on
//            the CUDA simulator (`--selectProjects devices`).
//   host     every other suite: run once, with the CPU addon.
// A suite that calls test/util/devices.ts outside the devices project fails (devices.ts checks),
// so a new device suite cannot silently miss the simulator pass.
const DEVICE_DIRS = ['ops', 'device', 'model'];
// Suites of those folders that test files and tokenizers, not kernels: host only (regular
// expressions, relative to test/, without .test.ts).
const HOST_ONLY = ['model/checkpoint_[^/]*', 'model/hf_tokenizer', 'model/pretrained'];

const common = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
};
const hostOnly = `(?:${HOST_ONLY.join('|')})\\.test\\.ts$`;

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120000,  // a global option: inside a project jest ignores it
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'devices',
      testMatch: DEVICE_DIRS.map((dir) => `<rootDir>/test/${dir}/**/*.test.ts`),
      testPathIgnorePatterns: ['/node_modules/', `<rootDir>/test/${hostOnly}`],
      globals: { STEPRL_DEVICE_SUITE: true },
    },
    {
      ...common,
      displayName: 'host',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      // The device folders, except their host-only suites.
      testPathIgnorePatterns: ['/node_modules/', `<rootDir>/test/(?!${hostOnly})(?:${DEVICE_DIRS.join('|')})/`],
    },
  ],
};
