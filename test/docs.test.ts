/**
 * The README and docs/ stay current: the configuration reference is what the specs render, every
 * relative link leads somewhere, and the hand-written pages leave the services' ports to the
 * generated reference, so that the topology stays their one home.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { serviceNames, serviceOf } from '@scaleshop/platform/topology';
import { defaultConfig } from '../cdk8s/src/config.ts';
import { configurationDoc, renderConfigurationDoc } from '../scripts/docs.ts';
import { root } from './tiltfile-harness.ts';

const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)];
const handWritten = pages.filter((page) => page !== configurationDoc);
const read = (page: string) => readFileSync(join(root, page), 'utf8');
/** Prose only: fenced code blocks hold commands and diagrams, not links. */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '');

/** The anchors GitHub gives a page's headings. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const base = heading!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

describe('the documentation', () => {
  test(`${configurationDoc} is what the configuration specs render (\`npm run docs\`)`, () => {
    assert.ok(read(configurationDoc) === renderConfigurationDoc(), `${configurationDoc} is stale: run \`npm run docs\` and commit the result`);
  });

  test('every relative link leads to a file, and to a heading that exists', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z+.-]*:/i.test(target!)) continue;
        const [path = '', anchor] = target!.split('#', 2);
        const file = path === '' ? join(root, page) : resolve(dirname(join(root, page)), path);
        if (!existsSync(file)) broken.push(`${page}: ${target} (no ${relative(root, file)})`);
        else if (anchor !== undefined && statSync(file).isFile() && !anchorsOf(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    assert.deepEqual(broken, []);
  });

  test('the README stays a front door: a few screens, the rest in docs/', () => {
    assert.ok(read('README.md').split('\n').length <= 160, 'README.md is over 160 lines');
  });

  test("hand-written pages name no service's own port: those are in the generated reference", () => {
    // The gateway's port is the shop's address, which the walk-through and the cluster's URLs give.
    const ports = serviceNames.flatMap((name) => [...(name === 'gateway' ? [] : [serviceOf(name).port]), ...(serviceOf(name).metricsPort === undefined ? [] : [serviceOf(name).metricsPort!])]);
    for (const page of handWritten) {
      for (const port of ports) assert.doesNotMatch(read(page), new RegExp(`\\b${port}\\b`), `${page} names port ${port}: link to ${configurationDoc} instead`);
    }
  });

  test('the Jaeger the docs run locally is the one the manifests pin', () => {
    for (const page of handWritten) {
      for (const [image] of read(page).matchAll(/jaegertracing\/jaeger:[\w.-]+/g)) assert.equal(image, defaultConfig.jaeger.image, page);
    }
  });
});
