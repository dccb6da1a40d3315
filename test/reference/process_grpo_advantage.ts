// reference/process_grpo_advantage.ts: float64 plain loops, the executable spec of
// processGrpoAdvantages (ALGORITHMS.md §1.6): pool the step rewards of every row of a group;
// r̃ = (r − mean)/(std + eps), unbiased std; |R_g| ≤ 1 or std = 0 → r̃ = 0; scatter r̃ onto each
// step's end token, inclusive reverse cumulative sum along the row, times the mask.
export function processGrpoAdvantagesReference(
  stepRewards: ArrayLike<number>, stepEnds: ArrayLike<number>, stepOffsets: ArrayLike<number>, groupIds: ArrayLike<number>,
  mask: ArrayLike<number>, T: number, eps = 1e-6,
): Float64Array {
  const R = stepOffsets.length - 1;
  const groups = new Map<number, number[]>();
  for (let i = 0; i < R; i++) groups.set(groupIds[i], [...(groups.get(groupIds[i]) ?? []), i]);
  const normalized = new Float64Array(stepRewards.length);
  for (const rows of groups.values()) {
    const steps = rows.flatMap((i) => Array.from({ length: stepOffsets[i + 1] - stepOffsets[i] }, (_, k) => stepOffsets[i] + k));
    if (steps.length <= 1) continue;
    const mean = steps.reduce((a, j) => a + stepRewards[j], 0) / steps.length;
    const std = Math.sqrt(steps.reduce((a, j) => a + (stepRewards[j] - mean) ** 2, 0) / (steps.length - 1));
    if (std === 0) continue;
    for (const j of steps) normalized[j] = (stepRewards[j] - mean) / (std + eps);
  }
  const A = new Float64Array(R * T);
  for (let i = 0; i < R; i++) {
    const scattered = new Float64Array(T + 1);
    for (let j = stepOffsets[i]; j < stepOffsets[i + 1]; j++) scattered[stepEnds[j]] += normalized[j];
    for (let t = T - 1; t >= 0; t--) scattered[t] += scattered[t + 1];
    for (let t = 0; t < T; t++) A[i * T + t] = mask[i * T + t] !== 0 ? scattered[t] : 0;
  }
  return A;
}
