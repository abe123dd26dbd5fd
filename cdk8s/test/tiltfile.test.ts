/**
 * The images named in the manifests are the ones the Tiltfile builds: Tilt replaces an image
 * in the YAML only when it matches a docker_build() ref, so a mismatch would leave a pod
 * pulling an image that exists nowhere.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { defaultConfig } from '../src/config.ts';
import { allContainers, repositoryRoot, variants, workloads } from './manifests.ts';

/** A Starlark string literal: its value, or undefined. */
function stringLiteral(expression: string): string | undefined {
  const match = /^\s*(['"])((?:\\.|(?!\1).)*)\1\s*$/.exec(expression);
  return match?.[2];
}

/** The first argument of a call, or its `ref=` keyword argument, from the text right after `(`. */
function firstArgument(text: string): string {
  let depth = 0;
  let quote: string | undefined;
  const args: string[] = [];
  let current = '';
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quote) {
      if (char === '\\') {
        current += char + (text[index + 1] ?? '');
        index++;
        continue;
      }
      if (char === quote) quote = undefined;
      current += char;
      continue;
    }
    if (char === "'" || char === '"') quote = char;
    else if ('([{'.includes(char)) depth++;
    else if (')]}'.includes(char)) {
      if (depth === 0) {
        args.push(current);
        break;
      }
      depth--;
    } else if (char === ',' && depth === 0) {
      args.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  const keyword = args.find((arg) => /^\s*ref\s*=/.test(arg));
  return (keyword ? keyword.replace(/^\s*ref\s*=/, '') : (args[0] ?? '')).trim();
}

/** The values of a list: a list literal, or a name bound to one. */
function listValues(expression: string, source: string): string[] | undefined {
  const literal = /^\[([\s\S]*)\]$/.exec(expression.trim());
  const body = literal ? literal[1] : new RegExp(`^${expression.trim()}\\s*=\\s*\\[([^\\]]*)\\]`, 'm').exec(source)?.[1];
  if (body === undefined) return undefined;
  const values = body
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map(stringLiteral);
  return values.every((value) => value !== undefined) ? (values as string[]) : undefined;
}

/**
 * The refs of every docker_build() in a Tiltfile. Understands string literals, a lookup in a
 * dict literal (`IMAGES[service]`: all its values), and a ref built from a loop variable (`for s in SERVICES:` over a list literal or a name bound to
 * one) with `'prefix' + s`, `'prefix%s' % s` or `'prefix{}'.format(s)`.
 */
export function tiltfileImageRefs(tiltfile: string): string[] {
  const source = tiltfile
    .split('\n')
    .map((line) => line.replace(/^(\s*)#.*$/, '$1'))
    .join('\n');
  const refs: string[] = [];
  for (const call of source.matchAll(/\bdocker_build\s*\(/g)) {
    const expression = firstArgument(source.slice(call.index + call[0].length));
    const literal = stringLiteral(expression);
    if (literal !== undefined) {
      refs.push(literal);
      continue;
    }
    // `IMAGES[service]` inside a loop: every value of the dict literal bound to IMAGES.
    const lookup = /^([A-Za-z_]\w*)\[\s*[A-Za-z_]\w*\s*\]$/.exec(expression);
    const dictBody = lookup ? new RegExp(`\\b${lookup[1]}\\s*=\\s*\\{([^}]*)\\}`).exec(source)?.[1] : undefined;
    if (dictBody !== undefined) {
      const dictValues = dictBody
        .split(',')
        .map((entry) => entry.split(':').slice(1).join(':').trim())
        .filter((value) => value !== '')
        .map(stringLiteral);
      if (dictValues.length > 0 && dictValues.every((value) => value !== undefined)) {
        refs.push(...(dictValues as string[]));
        continue;
      }
    }
    const forms: [RegExp, (prefix: string, value: string) => string][] = [
      [/^(['"])(.*)\1\s*\+\s*([A-Za-z_]\w*)$/, (prefix, value) => prefix + value],
      [/^(['"])(.*%s.*)\1\s*%\s*\(?\s*([A-Za-z_]\w*)\s*,?\s*\)?$/, (template, value) => template.replace('%s', value)],
      [/^(['"])(.*\{\}.*)\1\.format\(\s*([A-Za-z_]\w*)\s*\)$/, (template, value) => template.replace('{}', value)],
    ];
    const form = forms.find(([pattern]) => pattern.test(expression));
    const match = form?.[0].exec(expression);
    const variable = match?.[3];
    const loops = variable ? [...source.slice(0, call.index).matchAll(new RegExp(`\\bfor\\s+${variable}\\s+in\\s+([^:]+):`, 'g'))] : [];
    const values = loops.length > 0 ? listValues(loops[loops.length - 1]![1]!, source) : undefined;
    if (!form || !match || values === undefined) {
      throw new Error(`cannot read the image ref of docker_build(${expression}, …) in the Tiltfile: extend tiltfileImageRefs() in cdk8s/test/tiltfile.test.ts`);
    }
    refs.push(...values.map((value) => form[1](match[2]!, value)));
  }
  return refs;
}

/** Tilt matches refs by name, whatever the tag in the YAML. */
function withoutTag(image: string): string {
  return image.replace(/(:[\w][\w.-]*)?(@sha256:[0-9a-f]+)?$/, '');
}

const tiltfilePath = join(repositoryRoot, 'Tiltfile');
const infrastructureImages = [defaultConfig.postgres.image, defaultConfig.rabbitmq.image, defaultConfig.jaeger.image, defaultConfig.mailpit.image];

describe('Tiltfile', () => {
  test('the images in the manifests are the ones the Tiltfile builds', (t) => {
    if (!existsSync(tiltfilePath)) {
      t.skip('no Tiltfile in the repository root yet: it is written alongside these manifests (issue 5)');
      return;
    }
    const refs = tiltfileImageRefs(readFileSync(tiltfilePath, 'utf8'));
    assert.deepEqual([...refs].sort(), ['cart', 'email', 'gateway', 'order', 'payment', 'product', 'user'].map((service) => `scaleshop/${service}`), 'the Tiltfile builds one image per service');
    for (const variant of variants()) {
      const images = new Set(workloads(variant.objects).flatMap((workload) => allContainers(workload.spec.template.spec).map(({ container }) => container.image)));
      for (const image of images) {
        if (infrastructureImages.includes(image)) continue;
        assert.ok(refs.includes(withoutTag(image)), `${variant.name}: ${image} is not built by the Tiltfile (docker_build refs: ${refs.join(', ')})`);
      }
      for (const ref of refs) assert.ok([...images].some((image) => withoutTag(image) === ref), `${variant.name}: the Tiltfile builds ${ref}, which no pod runs`);
    }
  });

  test('the ref reader understands the usual forms', () => {
    assert.deepEqual(tiltfileImageRefs("docker_build('scaleshop/a', '.')\ndocker_build(ref=\"scaleshop/b\", context='.')"), ['scaleshop/a', 'scaleshop/b']);
    assert.deepEqual(tiltfileImageRefs("S = ['a', 'b']\nfor s in S:\n    docker_build('scaleshop/' + s, context='.', build_args={'SERVICE': s})"), ['scaleshop/a', 'scaleshop/b']);
    assert.deepEqual(tiltfileImageRefs("for s in ['a']:\n    docker_build('scaleshop/%s' % s, '.')"), ['scaleshop/a']);
    assert.deepEqual(tiltfileImageRefs("for s in ['a']:\n    docker_build('scaleshop/{}'.format(s), '.')"), ['scaleshop/a']);
    assert.deepEqual(tiltfileImageRefs("# docker_build('commented/out', '.')\n"), []);
    assert.throws(() => tiltfileImageRefs('docker_build(image_ref(), ".")'), /cannot read the image ref/);
  });
});
