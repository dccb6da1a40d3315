// pass_views.ts: the reshaped views one forward, backward or decode step makes of its buffers,
// freed together when the step ends. A view keeps its storage alive, so leaving them to the
// garbage collector would hold a disposed cuda arena's device memory until a collection.
import type { Tensor } from '../tensor';

/**
 * Reshaped views made for one pass. A reshape holds a reference to its storage, so each is
 * released when the pass ends: on cuda, disposing the activation arena must free device memory at
 * once, not whenever the garbage collector gets to the views.
 */
export class PassViews {
  #made: Tensor[] = [];
  of(tensor: Tensor, shape: number[]): Tensor {
    const view = tensor.reshape(shape);
    this.#made.push(view);
    return view;
  }
  /** The first numel(shape) elements of `tensor` (a scratch buffer) as `shape`. */
  head(tensor: Tensor, shape: readonly number[]): Tensor {
    const view = tensor.view(0, shape);
    this.#made.push(view);
    return view;
  }
  dispose(): void {
    for (const view of this.#made) view.dispose();
    this.#made = [];
  }
}
