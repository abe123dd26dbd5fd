/**
 * `npm run render -- shop.yaml [--no-keda]`: prints, as YAML, the objects the operator would
 * apply for that Shop. Offline there is no cluster to ask whether KEDA is installed, so it renders
 * as if it were; --no-keda renders without it. A bad Shop gets every problem and exit 2.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { desiredObjects, shopProblems, type Shop } from './desired.ts';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const usage = 'usage: npm run render -- <shop.yaml> [--no-keda]';
let args;
try {
  args = parseArgs({ allowPositionals: true, options: { 'no-keda': { type: 'boolean', default: false } } });
} catch (error) {
  fail(`${(error as Error).message}\n${usage}`);
}
const [file, ...extra] = args.positionals;
if (!file || extra.length > 0) fail(usage);

let text: string;
try {
  text = readFileSync(file, 'utf8');
} catch (error) {
  fail(`render: cannot read ${file}: ${(error as Error).message}`);
}
let shop: unknown;
try {
  shop = parse(text);
} catch (error) {
  fail(`render: ${file} is not YAML: ${(error as Error).message}`);
}
const problems = shopProblems(shop);
if (problems.length > 0) fail(`render: ${file} is not a valid Shop:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
const objects = desiredObjects(shop as Shop, { keda: !args.values['no-keda'] });
process.stdout.write(objects.map((object) => stringify(object, { lineWidth: 0 })).join('---\n'));
