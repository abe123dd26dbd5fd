/**
 * `npm run usl -- FILE.csv`: fits the Universal Scalability Law to measured points (`N,X` per
 * line, a header allowed) and prints {"lambda", "sigma", "kappa", "r2", "peak_replicas"}.
 * Bad input: a message and exit 2.
 */
import { readFileSync } from 'node:fs';
import { fitUsl, parseUslCsv, UslInputError } from './scaling/usl.ts';

function fail(message: string): never {
  process.stderr.write(`usl: ${message}\nusage: npm run usl -- FILE.csv   (lines N,X; a header line is allowed)\n`);
  process.exit(2);
}

const [file, ...rest] = process.argv.slice(2);
if (file === undefined || rest.length > 0) fail(file === undefined ? 'no file given' : `one file only, got ${[file, ...rest].join(' ')}`);
let text: string;
try {
  text = readFileSync(file, 'utf8');
} catch (error) {
  fail(`cannot read ${file}: ${(error as Error).message}`);
}
try {
  process.stdout.write(`${JSON.stringify(fitUsl(parseUslCsv(text)))}\n`);
} catch (error) {
  if (error instanceof UslInputError) fail(error.message);
  throw error;
}
