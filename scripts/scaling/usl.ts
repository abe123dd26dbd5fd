import { levenbergMarquardt } from 'ml-levenberg-marquardt';

/**
 * The Universal Scalability Law (Gunther, Guerrilla Capacity Planning):
 *   X(N) = λN / (1 + σ(N−1) + κN(N−1))
 * σ is the share of the work that serialises (a lock, one queue, one database), κ the crosstalk
 * between the N replicas (each coordinating with each), λ the throughput of one.
 */
export interface UslPoint {
  replicas: number;
  throughput: number;
}

export interface UslFit {
  lambda: number;
  sigma: number;
  kappa: number;
  r2: number;
  /** N* = √((1−σ)/κ), where throughput peaks; null when κ = 0 (it never falls). */
  peak_replicas: number | null;
}

export class UslInputError extends Error {}

export function uslThroughput({ lambda, sigma, kappa }: Pick<UslFit, 'lambda' | 'sigma' | 'kappa'>, replicas: number): number {
  return (lambda * replicas) / (1 + sigma * (replicas - 1) + kappa * replicas * (replicas - 1));
}

/** For fixed σ and κ the least-squares λ has a closed form: X is linear in it. */
function bestLambda(points: readonly UslPoint[], sigma: number, kappa: number): number {
  let numerator = 0;
  let denominator = 0;
  for (const { replicas, throughput } of points) {
    const shape = uslThroughput({ lambda: 1, sigma, kappa }, replicas);
    numerator += throughput * shape;
    denominator += shape * shape;
  }
  return numerator / denominator;
}

function sumOfSquares(points: readonly UslPoint[], fit: Pick<UslFit, 'lambda' | 'sigma' | 'kappa'>): number {
  return points.reduce((sum, point) => sum + (point.throughput - uslThroughput(fit, point.replicas)) ** 2, 0);
}

export function validatePoints(points: readonly UslPoint[]): void {
  const problems: string[] = [];
  if (points.length < 3) problems.push(`a fit needs at least 3 points, got ${points.length}`);
  points.forEach(({ replicas, throughput }, index) => {
    if (!Number.isFinite(replicas) || replicas < 1) problems.push(`point ${index + 1}: N must be at least 1, got ${replicas}`);
    if (!Number.isFinite(throughput) || throughput <= 0) problems.push(`point ${index + 1}: X must be above 0, got ${throughput}`);
  });
  if (points.length >= 3 && new Set(points.map((point) => point.replicas)).size < 2) problems.push('every point has the same N: nothing to fit');
  if (problems.length > 0) throw new UslInputError(problems.join('\n'));
}

/**
 * Nonlinear least squares with σ, κ ≥ 0 (Levenberg–Marquardt, ml-levenberg-marquardt). The
 * fit runs on s and k with σ = s², κ = k², which keeps both non-negative without the library's
 * bounds (a step clamped at κ = 0 stalls there), and λ is profiled out in closed form. It starts
 * from several points, one of them on κ = 0, since real data often puts the optimum on that
 * boundary (a system that only serialises), and keeps the best.
 */
export function fitUsl(points: readonly UslPoint[]): UslFit {
  validatePoints(points);
  const replicas = points.map((point) => point.replicas);
  const throughputs = points.map((point) => point.throughput);
  const coefficients = ([s, k]: number[]) => ({ sigma: s! * s!, kappa: k! * k! });
  const model = (parameters: number[]) => {
    const { sigma, kappa } = coefficients(parameters);
    const lambda = bestLambda(points, sigma, kappa);
    return (n: number) => uslThroughput({ lambda, sigma, kappa }, n);
  };
  let best: { sigma: number; kappa: number; error: number } | undefined;
  for (const [sigma, kappa] of [
    [0.05, 0],
    [0.01, 1e-4],
    [0.2, 1e-3],
    [0.1, 0.01],
    [0.3, 0.1],
  ] as const) {
    const result = levenbergMarquardt({ x: replicas, y: throughputs }, model, {
      initialValues: [Math.sqrt(sigma), Math.sqrt(kappa)],
      gradientDifference: 1e-7,
      centralDifference: true,
      maxIterations: 1_000,
      errorTolerance: 1e-10,
      damping: 1e-2,
      improvementThreshold: 1e-12,
    });
    const fitted = coefficients(result.parameterValues as number[]);
    const error = sumOfSquares(points, { ...fitted, lambda: bestLambda(points, fitted.sigma, fitted.kappa) });
    if (best === undefined || error < best.error) best = { ...fitted, error };
  }
  const { sigma, kappa, error } = best!;
  const lambda = bestLambda(points, sigma, kappa);
  const mean = throughputs.reduce((sum, value) => sum + value, 0) / throughputs.length;
  const total = throughputs.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  return {
    lambda,
    sigma,
    kappa,
    r2: total === 0 ? 1 : 1 - error / total,
    peak_replicas: kappa > 0 && sigma < 1 ? Math.sqrt((1 - sigma) / kappa) : null,
  };
}

/** E(N) = X(N) / (N·X(1)): the share of linear scaling N replicas achieve, against one measured replica. */
export function efficiency(throughput: number, replicas: number, singleReplicaThroughput: number): number {
  return throughput / (replicas * singleReplicaThroughput);
}

/** `N,X` lines, a header line allowed; anything else is an error naming the line. */
export function parseUslCsv(text: string): UslPoint[] {
  const points: UslPoint[] = [];
  const problems: string[] = [];
  let seenLine = false;
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const firstLine = !seenLine;
    seenLine = true;
    const cells = trimmed.split(/[,;\t]/).map((cell) => cell.trim());
    const numeric = cells.length === 2 && cells.every((cell) => cell !== '' && Number.isFinite(Number(cell)));
    if (numeric) points.push({ replicas: Number(cells[0]), throughput: Number(cells[1]) });
    else if (!firstLine) problems.push(`line ${index + 1}: expected N,X, got "${trimmed.slice(0, 60)}"`);
  }
  if (problems.length > 0) throw new UslInputError(problems.join('\n'));
  return points;
}
