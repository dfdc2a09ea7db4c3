/**
 * The Fréchet distance between two sets of feature vectors, each summarized by its mean and
 * covariance as a Gaussian: ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2·(Σ₁Σ₂)^½) (Heusel et al. 2017).
 * Computed in float64 from float32 features.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { XpError } from '../errors.js';

export interface FeatureStats {
  /** Number of feature vectors summarized. */
  n: number;
  dim: number;
  mean: Float64Array;
  /** dim × dim, row-major, unbiased (divided by n − 1, as numpy.cov). */
  covariance: Float64Array;
}

/** Mean and covariance of n feature vectors of `dim` values, row-major. */
export function featureStats(features: Float32Array, dim: number): FeatureStats {
  const n = features.length / dim;
  if (!Number.isInteger(n) || n < 2) throw new XpError(`FID needs at least 2 feature vectors of ${dim} values, got ${features.length} values`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += features[i * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= n;
  const covariance = new Float64Array(dim * dim);
  const centered = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) centered[d] = features[i * dim + d] - mean[d];
    // The upper triangle only; the lower is its mirror.
    for (let r = 0; r < dim; r++) {
      const value = centered[r];
      if (value === 0) continue;
      for (let c = r; c < dim; c++) covariance[r * dim + c] += value * centered[c];
    }
  }
  for (let r = 0; r < dim; r++) {
    for (let c = r; c < dim; c++) {
      const value = covariance[r * dim + c] / (n - 1);
      covariance[r * dim + c] = value;
      covariance[c * dim + r] = value;
    }
  }
  return { n, dim, mean, covariance };
}

export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  if (a.dim !== b.dim) throw new XpError(`FID between features of different widths: ${a.dim} and ${b.dim}`);
  let meanTerm = 0;
  let traces = 0;
  for (let d = 0; d < a.dim; d++) {
    meanTerm += (a.mean[d] - b.mean[d]) ** 2;
    traces += a.covariance[d * a.dim + d] + b.covariance[d * b.dim + d];
  }
  // Rounding can leave a tiny negative total for identical sets; a distance is not below 0.
  return Math.max(0, meanTerm + traces - 2 * traceOfSqrtProduct(a, b));
}

/**
 * tr((Σ₁Σ₂)^½) through symmetric matrices only: Σ₁Σ₂ is similar to Σ₁^½ Σ₂ Σ₁^½, which is
 * symmetric positive semi-definite, so the trace is the sum of the square roots of its
 * eigenvalues. Eigenvalues rounding makes slightly negative (rank-deficient covariances, as
 * with fewer samples than features) count as 0.
 */
function traceOfSqrtProduct(a: FeatureStats, b: FeatureStats): number {
  const sqrtA = symmetricSqrt(toMatrix(a));
  const product = sqrtA.mmul(toMatrix(b)).mmul(sqrtA);
  const symmetric = product.add(product.transpose()).mul(0.5);
  const eigenvalues = new EigenvalueDecomposition(symmetric, { assumeSymmetric: true }).realEigenvalues;
  return eigenvalues.reduce((sum, value) => sum + Math.sqrt(Math.max(value, 0)), 0);
}

/** V·diag(√λ)·Vᵀ of a symmetric positive semi-definite matrix. */
function symmetricSqrt(m: Matrix): Matrix {
  const decomposition = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const vectors = decomposition.eigenvectorMatrix;
  const roots = decomposition.realEigenvalues.map((value) => Math.sqrt(Math.max(value, 0)));
  return vectors.mmul(Matrix.diag(roots)).mmul(vectors.transpose());
}

function toMatrix({ dim, covariance }: FeatureStats): Matrix {
  return new Matrix(Array.from({ length: dim }, (_, r) => Array.from(covariance.subarray(r * dim, (r + 1) * dim))));
}
