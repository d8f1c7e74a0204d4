/**
 * A finite-difference gradient checker users can run on their own losses.
 * f is evaluated in float32 on the cpu backend; perturbations, differences and
 * comparisons are done in float64, using the perturbation float32 actually
 * applied (fround(x ± eps) − x), so the only float32 error is in f itself.
 */
import { getBackend, tensor, treeFlatten, treeUnflatten, type Tensor } from '@tandem/tensor';
import { AutodiffError } from './errors.js';
import { valueAndGrad } from './vjp.js';

/** Options for {@link checkGrads}. */
export interface CheckOptions {
  /** Perturbation size (default 1e-3). */
  eps?: number;
  /** Relative tolerance (default 1e-2): |a − n| ≤ atol + rtol·max(|a|, |n|). */
  rtol?: number;
  /** Absolute tolerance (default 1e-3). */
  atol?: number;
  /** At most this many coordinates per input are checked, chosen deterministically (default 64). */
  maxCoords?: number;
}

/** Summary returned by {@link checkGrads} when every checked coordinate is within tolerance. */
export interface CheckResult {
  /** Coordinates compared. */
  checked: number;
  /** Largest |analytic − numeric| over the checked coordinates. */
  maxAbsError: number;
  /**
   * The coordinate with the largest violation of the tolerance: argument `input`, `leaf`
   * (in pytree flatten order), flat `index`, and the `analytic` and `numeric` derivatives
   * there; undefined when no coordinate is out of tolerance.
   */
  worst: { input: number; leaf: number; index: number; analytic: number; numeric: number } | undefined;
}

function toCpuF32(t: Tensor): Float32Array {
  const cpu = getBackend('cpu');
  if (t.backend !== cpu) throw new AutodiffError('checkGrads', 'inputs must be cpu tensors (the checker runs in float64 on cpu)', 'argument');
  return t.dataSync() as Float32Array;
}

/**
 * Compares the gradient of the scalar function `f` at `inputs` (each a pytree of
 * float32 cpu tensors) with central finite differences. Throws an AutodiffError (code `mismatch`) naming
 * the worst coordinate when any coordinate is out of tolerance; returns a summary otherwise.
 */
export function checkGrads(f: (...args: never[]) => Tensor, inputs: readonly unknown[], opts: CheckOptions = {}): CheckResult {
  const eps = opts.eps ?? 1e-3;
  const rtol = opts.rtol ?? 1e-2;
  const atol = opts.atol ?? 1e-3;
  const maxCoords = opts.maxCoords ?? 64;
  const argnums = inputs.map((_, i) => i);
  const [value, grads] = valueAndGrad(f, { argnums })(...(inputs as never[])) as [Tensor, unknown[]];
  value.dispose();

  const evalAt = (i: number, leafIdx: number, flat: Float32Array, shape: readonly number[]): number => {
    const [leaves, def] = treeFlatten(inputs[i]);
    const replaced = leaves.map((l, j) => (j === leafIdx ? tensor(flat, { shape, backend: 'cpu' }) : l));
    const args = [...inputs];
    args[i] = treeUnflatten(def, replaced);
    const out = f(...(args as never[]));
    const v = out.dataSync()[0]!;
    out.dispose();
    replaced[leafIdx]!.dispose();
    return v;
  };

  let checked = 0;
  let maxAbsError = 0;
  let worst: CheckResult['worst'];
  let worstExcess = 0;
  inputs.forEach((input, i) => {
    const [leaves] = treeFlatten(input);
    const [gLeaves] = treeFlatten(grads[i]);
    leaves.forEach((leaf, li) => {
      const x = toCpuF32(leaf);
      const g = gLeaves[li]!.dataSync() as Float32Array;
      const n = x.length;
      const stride = n > maxCoords ? n / maxCoords : 1;
      for (let c = 0; c < Math.min(n, maxCoords); c++) {
        const k = Math.floor(c * stride);
        const xp = x.slice();
        const xm = x.slice();
        xp[k] = x[k]! + eps;
        xm[k] = x[k]! - eps;
        const h = (xp[k]! - x[k]!) + (x[k]! - xm[k]!);
        const numeric = (evalAt(i, li, xp, leaf.shape) - evalAt(i, li, xm, leaf.shape)) / h;
        const analytic = g[k]!;
        const err = Math.abs(analytic - numeric);
        const excess = err - (atol + rtol * Math.max(Math.abs(analytic), Math.abs(numeric)));
        checked++;
        maxAbsError = Math.max(maxAbsError, err);
        if (!(excess <= worstExcess) || (Number.isNaN(err))) {
          worstExcess = Number.isNaN(err) ? Infinity : excess;
          worst = { input: i, leaf: li, index: k, analytic, numeric };
          if (Number.isNaN(err)) break;
        }
      }
    });
  });
  for (const g of treeFlatten(grads)[0]) g.dispose();
  if (worstExcess > 0 && worst) {
    throw new AutodiffError(
      'checkGrads',
      `gradient mismatch at input ${worst.input}, leaf ${worst.leaf} (in pytree flatten order), flat index ${worst.index}: analytic ${worst.analytic}, finite difference ${worst.numeric} (eps ${eps}, rtol ${rtol}, atol ${atol})`,
      'mismatch',
    );
  }
  return { checked, maxAbsError, worst };
}
