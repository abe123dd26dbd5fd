/**
 * The k6 scripts (loadtests/*.ts) and everything they import must run inside k6, which has no
 * Node built-ins and no npm packages: only its own modules (k6, k6/http…) and files of the
 * script's own. Type-checking cannot see that (a Node import type-checks fine), so this follows
 * every import from each script and refuses anything else. `npm run typecheck` type-checks the
 * same files against @types/k6 alone (loadtests/tsconfig.json), which refuses Node's globals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, parse } from 'es-module-lexer';

const loadtests = resolve(dirname(fileURLToPath(import.meta.url)), '../loadtests');

/** The modules k6 itself provides (grafana.com/docs/k6/latest/javascript-api). */
const k6Modules = ['k6', 'k6/http', 'k6/metrics', 'k6/execution', 'k6/timers', 'k6/crypto', 'k6/encoding', 'k6/data', 'k6/html', 'k6/net/grpc', 'k6/ws', 'k6/websockets', 'k6/browser', 'k6/secrets'];
const isK6Module = (specifier: string) => k6Modules.includes(specifier) || specifier.startsWith('k6/experimental/');

/** Every import reachable from `entry` that k6 could not load, as "file: specifier (why)". */
async function importsK6Cannot(entry: string, root: string): Promise<string[]> {
  await init;
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = stripTypeScriptTypes(readFileSync(file, 'utf8'));
    const where = relative(root, file);
    if (/\brequire\s*\(/.test(source)) problems.push(`${where}: require() (k6 scripts are ES modules)`);
    const [imports] = parse(source, file);
    for (const found of imports) {
      const specifier = found.specifier;
      if (specifier === undefined || specifier === null) {
        problems.push(`${where}: import(${source.slice(found.start, found.end)}) (not a literal: cannot be checked)`);
      } else if (specifier.startsWith('./') || specifier.startsWith('../')) {
        const target = resolve(dirname(file), specifier);
        if (relative(root, target).startsWith('..')) problems.push(`${where}: ${specifier} (outside the scripts' folder: a k6 run gets only the script's own files)`);
        else if (!specifier.endsWith('.ts') && !specifier.endsWith('.js')) problems.push(`${where}: ${specifier} (k6 resolves no extension-less paths)`);
        else if (!existsSync(target)) problems.push(`${where}: ${specifier} (no such file)`);
        else visit(target);
      } else if (!isK6Module(specifier)) {
        problems.push(`${where}: ${specifier} (${specifier.startsWith('node:') ? 'a Node built-in' : 'not a module k6 provides'})`);
      }
    }
  };
  visit(entry);
  return problems;
}

const scripts = readdirSync(loadtests).filter((name) => name.endsWith('.ts'));

test('there is a k6 script per scenario', () => {
  assert.deepEqual(scripts.sort(), ['browse.ts', 'buyer.ts', 'hot-item.ts', 'mixed.ts']);
});

for (const script of scripts) {
  test(`loadtests/${script} imports only k6's modules and files under loadtests/`, async () => {
    assert.deepEqual(await importsK6Cannot(join(loadtests, script), loadtests), []);
  });
}

test('the check catches Node built-ins, npm packages, require, files outside, missing files and dynamic imports, in imported files too', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'k6-imports-'));
  const root = join(parent, 'scripts');
  try {
    mkdirSync(join(root, 'lib'), { recursive: true });
    writeFileSync(join(parent, 'elsewhere.ts'), 'export const z = 1;\n');
    writeFileSync(join(root, 'script.ts'), `import http from 'k6/http';\nimport { helper } from './lib/helper.ts';\nexport default async () => { await import(http.name); helper(); };\n`);
    writeFileSync(
      join(root, 'lib', 'helper.ts'),
      [
        `import type { Thing } from 'only-a-type';`,
        `import { check } from 'k6';`,
        `import { readFileSync } from 'node:fs';`,
        `import lodash from 'lodash';`,
        `import { x } from './missing.ts';`,
        `import { y } from './extensionless';`,
        `import { z } from '../../elsewhere.ts';`,
        `const crypto = require('crypto');`,
        `export const helper = (thing?: Thing) => [check, readFileSync, lodash, x, y, z, crypto, thing];`,
      ].join('\n'),
    );
    assert.deepEqual((await importsK6Cannot(join(root, 'script.ts'), root)).sort(), [
      'lib/helper.ts: ../../elsewhere.ts (outside the scripts\' folder: a k6 run gets only the script\'s own files)',
      'lib/helper.ts: ./extensionless (k6 resolves no extension-less paths)',
      'lib/helper.ts: ./missing.ts (no such file)',
      'lib/helper.ts: lodash (not a module k6 provides)',
      'lib/helper.ts: node:fs (a Node built-in)',
      'lib/helper.ts: require() (k6 scripts are ES modules)',
      'script.ts: import(http.name) (not a literal: cannot be checked)',
    ]);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
