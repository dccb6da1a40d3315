// package_contents.cjs: what the two tarballs may hold, shared by scripts/pack.mjs and
// test/packaging/packaging.test.ts so the release and its test apply the same rules.
'use strict';

/** Paths no tarball may hold: tests, benches, build output, caches, run folders, objects. */
const DEBRIS = [
  /^(test|bench|scripts|\.ci|coverage|runs|node_modules|build|build-[^/]*|packages|lib)\//,
  /(^|\/)\.(cache|git|github|vscode)\//,
  /\.(o|obj|a|lib|tgz|log|tsbuildinfo)$/,
  /_bench_main\.cc$/,
  /(^|\/)selftest/,
  /\.test\.[cm]?[jt]s$/,
];

/** The paths among `paths` that are debris. */
function debrisIn(paths) {
  return paths.filter((p) => DEBRIS.some((re) => re.test(p)));
}

/** Exactly what @steprl/linux-x64-cuda's tarball holds (npm adds package.json and README.md). */
const CUDA_PACKAGE_FILES = ['README.md', 'manifest.json', 'package.json', 'steprl.node'];

/** What the CUDA addon must embed. */
const REQUIRED_ARCHITECTURES = { sass: ['sm_80', 'sm_86', 'sm_89', 'sm_90'], ptx: ['compute_90'] };

module.exports = { DEBRIS, debrisIn, CUDA_PACKAGE_FILES, REQUIRED_ARCHITECTURES };
