// cispo.ts: CISPO, Clipped IS-weight Policy Optimization (MiniMax-M1, arXiv 2506.13585;
// docs/ALGORITHMS-baselines.md §B4): GRPO's group-normalized outcome advantages with the loss
// −sg(clip(ρ, 1−εlow, 1+εhigh))·A·log π per token, token-mean: the importance weight is clipped,
// never the update, so every token (the rare "However"/"Wait" forks included) keeps a gradient.
// The paper sets no lower bound (εlow large: clipLow = 1 here) and tunes only εhigh (0.28 here,
// a CHOICE: the paper does not publish its value). No KL term.
import { rowAdvantageAlgorithm, type Algorithm, type LossSettings } from './algorithm';
import { outcomeAdvantages } from './grpo';

export type CISPOOptions = Partial<LossSettings>;

export function cispo(options: CISPOOptions = {}): Algorithm {
  return rowAdvantageAlgorithm('cispo', { lossMode: 'cispo', ...options }, outcomeAdvantages);
}
