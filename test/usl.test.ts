/**
 * The USL fit against data sets published with their coefficients, and `npm run usl` as a user
 * runs it. The expected figures are the publications', not this code's.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { efficiency, fitUsl, parseUslCsv, UslInputError, type UslPoint } from '../scripts/scaling/usl.ts';

const points = (replicas: number[], throughput: number[]): UslPoint[] => replicas.map((n, index) => ({ replicas: n, throughput: throughput[index]! }));

/** Rounded to `digits` significant figures, as R prints with signif(). */
const significant = (value: number, digits: number) => Number(value.toPrecision(digits));

describe('the USL fit against published data', () => {
  test("the R usl package's coef test: X generated with σ = κ = 0.02 and λ = 1 gives them back", () => {
    // usl/tests/coef.R and coef.Rout.save: signif(alpha, 3) = 0.02, signif(beta, 3) = 0.02, gamma 1.
    const fit = fitUsl(points([1, 2, 4, 6, 8, 10], [1, 1.8868, 3.0769, 3.5294, 3.5398, 3.3557]));
    assert.equal(significant(fit.sigma, 3), 0.02);
    assert.equal(significant(fit.kappa, 3), 0.02);
    assert.equal(significant(fit.lambda, 3), 1);
    // Peak at √((1 − 0.02) / 0.02) = 7.
    assert.equal(Math.round(fit.peak_replicas!), 7);
  });

  test("Gunther's ray tracer (Guerrilla Capacity Planning): the R usl package's fit, σ = 0.0578, κ = 0, λ = 21.8488", () => {
    // usl/tests/confint.Rout.save, with options(digits=3): alpha 0.0578, beta 0.0000, gamma 21.8488.
    const fit = fitUsl(points([1, 4, 8, 12, 16, 20, 24, 28, 32, 48, 64], [20, 78, 130, 170, 190, 200, 210, 230, 260, 280, 310]));
    assert.equal(significant(fit.sigma, 3), 0.0578);
    assert.equal(fit.kappa, 0);
    assert.equal(Number(fit.lambda.toFixed(2)), 21.85);
    assert.equal(fit.peak_replicas, null, 'with κ = 0 throughput never falls');
  });

  test("Gunther's SPEC SDM 91 data (Sun SPARCcenter 2000): throughput peaks at 97 users, as the R usl package finds", () => {
    // usl/tests/peak-scalability.Rout.save: signif(peak.scalability(u), 2) = 97.
    const fit = fitUsl(points([1, 18, 36, 72, 108, 144, 216], [64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2]));
    assert.equal(significant(fit.peak_replicas!, 2), 97);
    assert.ok(fit.r2 > 0.95, `R² = ${fit.r2}`);
  });

  test('E(N) is X(N) over N times X(1)', () => {
    assert.equal(efficiency(30, 4, 10), 0.75);
    assert.equal(efficiency(10, 1, 10), 1);
  });
});

describe('npm run usl', () => {
  const run = promisify(execFile);
  const directory = mkdtempSync(join(tmpdir(), 'usl-'));
  const usl = async (content: string | undefined, ...extra: string[]) => {
    const file = join(directory, `${Math.random().toString(36).slice(2)}.csv`);
    if (content !== undefined) writeFileSync(file, content);
    return run(process.execPath, ['scripts/usl.ts', ...(content === undefined ? extra : [file, ...extra])]).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  };

  test('prints the fit as JSON for a CSV of N,X with a header line', async () => {
    const { code, stdout } = await usl('N,X\n1,20\n4,78\n8,130\n12,170\n16,190\n20,200\n24,210\n28,230\n32,260\n48,280\n64,310\n');
    assert.equal(code, 0);
    const fit = JSON.parse(stdout) as Record<string, number | null>;
    assert.deepEqual(Object.keys(fit), ['lambda', 'sigma', 'kappa', 'r2', 'peak_replicas']);
    assert.equal(significant(fit.sigma!, 3), 0.0578);
  });

  test('refuses bad input with exit 2 and a message saying what is wrong', async () => {
    for (const [content, message] of [
      ['1,10\n2,19\n', /at least 3 points, got 2/],
      ['1,10\n0,19\n3,25\n', /N must be at least 1, got 0/],
      ['1,10\n2,-1\n3,25\n', /X must be above 0, got -1/],
      ['1,10\n2,19\nthree,25\n', /line 3: expected N,X/],
      ['2,10\n2,11\n2,12\n', /same N/],
    ] as const) {
      const result = await usl(content);
      assert.equal(result.code, 2, content);
      assert.match(result.stderr, message, content);
    }
    const missing = await usl(undefined, join(directory, 'no-such.csv'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read/);
    const none = await usl(undefined);
    assert.equal(none.code, 2);
  });

  test('reads headers, comments and blank lines; a non-numeric line after the first is an error', () => {
    assert.deepEqual(parseUslCsv('replicas,throughput\n# measured today\n1,2\n\n2,3.5\n'), points([1, 2], [2, 3.5]));
    assert.throws(() => parseUslCsv('1,2\nN,X\n'), UslInputError);
  });
});
