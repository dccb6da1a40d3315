// enum_names.test.ts: the option-name lists of lib/native.ts are the one TypeScript definition of
// each enum the addon knows. This suite calls the addon directly (past the TypeScript checks) with
// every listed name and checks that it is accepted and means something of its own (no two names of
// a list give the same result), and that the native layer rejects a wrong name and every name of
// the other lists: a name added or renamed on one side only fails here.
import { binding } from '../../lib/binding';
import {
  GROUP_SCALE_NAMES, GROUP_STD_NAMES, KL_ESTIMATOR_NAMES, LOSS_AGGREGATION_NAMES, POLICY_LOSS_MODE_NAMES, PRL_MODE_NAMES,
  PRL_SUFFIX_START_NAMES, PRPO_PRIOR_NAMES, REWARD_SHAPING_NAMES, SIMD_LEVEL_NAMES, STEP_AGGREGATE_NAMES,
} from '../../lib/native';

type Call = (name: string) => unknown;

const ALL_NAMES: readonly string[] = [
  ...GROUP_SCALE_NAMES, ...GROUP_STD_NAMES, ...KL_ESTIMATOR_NAMES, ...LOSS_AGGREGATION_NAMES, ...POLICY_LOSS_MODE_NAMES,
  ...PRL_MODE_NAMES, ...PRL_SUFFIX_START_NAMES, ...PRPO_PRIOR_NAMES, ...REWARD_SHAPING_NAMES, ...SIMD_LEVEL_NAMES, ...STEP_AGGREGATE_NAMES,
];

/** The result as plain numbers (typed arrays and objects of them), to compare names by what they do. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as Float32Array);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, plain(v)]));
  return value;
}

/** Every name is accepted, and no two names give the same result. */
function expectDistinct(names: readonly string[], call: Call): void {
  const results = names.map((name) => JSON.stringify(plain(call(name))));
  expect(new Set(results).size).toBe(names.length);
}

/** Names outside the list are rejected with an error naming the argument. */
function expectRejected(names: readonly string[], call: Call, argument: string): void {
  for (const wrong of ['nope', '', ...ALL_NAMES.filter((n) => !names.includes(n))])
    expect(() => call(wrong)).toThrow(argument);
}

// Two rows of four tokens, values chosen so that every option changes the result.
const R = 2, T = 4;
const logprobs = Float32Array.from([-1.2, -0.3, -2.5, -0.9, -0.4, -1.7, -0.2, -3.1]);
const oldLogprobs = Float32Array.from([-1.0, -0.5, -2.0, -1.4, -0.6, -1.1, -0.9, -2.2]);
const refLogprobs = Float32Array.from([-0.8, -0.9, -1.1, -2.0, -0.3, -2.4, -0.5, -1.0]);
const advantages = Float32Array.from([1.5, 1.5, 1.5, 1.5, -0.7, -0.7, -0.7, -0.7]);
const mask = Float32Array.from([1, 1, 1, 0, 1, 1, 1, 1]);

function policyLoss(overrides: { estimator?: string; aggregation?: string; mode?: string }): unknown {
  return binding().policyLoss(
    logprobs, oldLogprobs, refLogprobs, advantages, mask, R, T, 0.2, 0.2, null, 0.1,
    (overrides.estimator ?? 'k3') as never, (overrides.aggregation ?? 'token-mean') as never, null, null,
    overrides.aggregation === 'seq-mean-token-sum-norm' ? T : null, 1, (overrides.mode ?? 'clip') as never, false,
  );
}

const stepScores = Float32Array.from([0.9, 0.4, 0.7, 0.2, 0.6, 0.8, 0.5, 0.3, 0.95, 0.1]);
const stepOffsets = Int32Array.from([0, 3, 10]);

describe('option names: lib/native.ts lists = what the addon accepts', () => {
  test('klPenalty estimator (kl_estimator_from_name)', () => {
    const call: Call = (name) => binding().klPenalty(logprobs, refLogprobs, logprobs.length, name as never, false);
    expectDistinct(KL_ESTIMATOR_NAMES, call);
    expectRejected(KL_ESTIMATOR_NAMES, call, 'estimator');
  });

  test('policyLoss klEstimator, aggregation and mode', () => {
    expectDistinct(KL_ESTIMATOR_NAMES, (estimator) => policyLoss({ estimator }));
    expectRejected(KL_ESTIMATOR_NAMES, (estimator) => policyLoss({ estimator }), 'klEstimator');
    expectDistinct(LOSS_AGGREGATION_NAMES, (aggregation) => policyLoss({ aggregation }));
    expectRejected(LOSS_AGGREGATION_NAMES, (aggregation) => policyLoss({ aggregation }), 'aggregation');
    expectDistinct(POLICY_LOSS_MODE_NAMES, (mode) => policyLoss({ mode }));
    expectRejected(POLICY_LOSS_MODE_NAMES, (mode) => policyLoss({ mode }), 'mode');
  });

  test('prmScore aggregate and weibullReward shaping and aggregate', () => {
    const prm: Call = (name) => binding().prmScore(stepScores, stepOffsets, stepScores.length, 2, name as never);
    expectDistinct(STEP_AGGREGATE_NAMES, prm);
    expectRejected(STEP_AGGREGATE_NAMES, prm, 'aggregate');
    const weibull = (shaping: string, aggregate: string) =>
      binding().weibullReward(stepScores, stepOffsets, stepScores.length, 2, shaping as never, aggregate as never, 1.5, 8, 10.735, 2);
    expectDistinct(REWARD_SHAPING_NAMES, (shaping) => weibull(shaping, 'geomean'));
    expectRejected(REWARD_SHAPING_NAMES, (shaping) => weibull(shaping, 'geomean'), 'shaping');
    expectDistinct(STEP_AGGREGATE_NAMES, (aggregate) => weibull('linear', aggregate));
    expectRejected(STEP_AGGREGATE_NAMES, (aggregate) => weibull('linear', aggregate), 'aggregate');
  });

  // groupAdvantages also takes 'rloo' as its scale natively: rlooAdvantages passes it (not a user option).
  test('groupAdvantages scale and std, prlAdvantages mode and suffixStart, prpoAdvantages prior', () => {
    const rewards = Float32Array.from([1, 0, 0.5, 2, 3, 0.25]);
    const groupIds = Int32Array.from([0, 0, 0, 1, 1, 1]);
    const group: Call = (scale) => binding().groupAdvantages(rewards, groupIds, 6, scale as never, 1e-6, 'unbiased');
    expectDistinct(GROUP_SCALE_NAMES, group);
    expectRejected([...GROUP_SCALE_NAMES, 'rloo'], group, 'scale');
    const groupStd: Call = (std) => binding().groupAdvantages(rewards, groupIds, 6, 'std', 1e-6, std as never);
    expectDistinct(GROUP_STD_NAMES, groupStd);
    expectRejected(GROUP_STD_NAMES, groupStd, 'std');

    const stepEnds = Uint8Array.from([1, 0, 1, 0, 0, 1, 0, 1]);  // 1 where a step ends
    const prl = (mode: string, suffix: string) => binding().prlAdvantages(
      Float32Array.from([1, -1]), oldLogprobs, refLogprobs, mask, stepEnds, R, T, 0.5, mode as never, suffix as never);
    expectDistinct(PRL_MODE_NAMES, (mode) => prl(mode, 'inclusive'));
    expectRejected(PRL_MODE_NAMES, (mode) => prl(mode, 'inclusive'), 'mode');
    expectDistinct(PRL_SUFFIX_START_NAMES, (suffix) => prl('step', suffix));
    expectRejected(PRL_SUFFIX_START_NAMES, (suffix) => prl('step', suffix), 'suffixStart');

    const prpo: Call = (prior) => binding().prpoAdvantages(
      Float32Array.from([0.9, 0.1, 0.7, 0.3, 0.2, 0.8, 0.6, 0.4]), Float32Array.from([1, 0]), Int32Array.from([0, 0]), mask, R, T,
      prior as never, 0.5, 0.3, 1e-6, false);
    expectDistinct(PRPO_PRIOR_NAMES, prpo);
    expectRejected(PRPO_PRIOR_NAMES, prpo, 'prior');
  });

  // The addon settles on the best level the CPU has at or below the one asked for, so names are
  // checked for acceptance only; the level in use is restored.
  test('setSimdLevel level', () => {
    const before = binding().info().simd;
    try {
      for (const level of SIMD_LEVEL_NAMES) expect(SIMD_LEVEL_NAMES).toContain(binding().setSimdLevel(level));
      expectRejected(SIMD_LEVEL_NAMES, (name) => binding().setSimdLevel(name as never), 'level');
    } finally {
      binding().setSimdLevel(before);
    }
  });
});
