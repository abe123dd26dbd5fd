import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateTokenKeys, loadConfig } from '@scaleshop/platform';
import {
  calleesOf,
  renderTopology,
  secretSettingsOf,
  serviceEnvironment,
  serviceNames,
  serviceOf,
  startOrder,
  telemetryConfig,
  topologyFile,
  urlVariable,
  variablesOf,
  type SecretKind,
} from '@scaleshop/platform/topology';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..');
const keys = generateTokenKeys();
const standIns: Record<SecretKind, string> = {
  database: 'postgres://postgres:secret@db.example.test:5432/shop',
  broker: 'amqp://shop:secret@broker.example.test:5672',
  tokenPrivateKey: keys.privateKeyPem,
  tokenPublicKey: keys.publicKeyPem,
};

test('topology.json is what the topology renders (`npm run synth` writes it)', () => {
  assert.ok(readFileSync(join(repositoryRoot, topologyFile), 'utf8') === renderTopology(), `${topologyFile} is stale: run \`npm run synth\` and commit the result`);
});

test('every setting of every service, and every telemetry variable, says what it is for', () => {
  for (const name of serviceNames) {
    for (const [variable, setting] of Object.entries(variablesOf(name))) assert.ok(setting.description?.trim(), `${name}: ${variable} has no description`);
  }
  for (const [variable, setting] of Object.entries(telemetryConfig)) assert.ok(setting.description?.trim(), variable);
});

test('an environment built from the topology, with the secrets it names, is one each service starts with', () => {
  for (const name of serviceNames) {
    const environment = {
      ...serviceEnvironment(name, { host: '10.0.0.1', urlOf: (service) => `http://${service}.example.test:80` }),
      ...Object.fromEntries(secretSettingsOf(name).map(({ variable, holds }) => [variable, standIns[holds]])),
    };
    const known = variablesOf(name);
    assert.deepEqual(Object.keys(environment).filter((key) => !(key in known)), [], name);
    const config = loadConfig(known, environment) as Record<string, unknown>;
    assert.equal(config.HOST, '10.0.0.1');
    for (const callee of calleesOf(name)) assert.equal(config[urlVariable(callee)], `http://${callee}.example.test:80`, `${name} → ${callee}`);
  }
});

test('a service started alone looks for the services it calls where local mode starts them', () => {
  for (const name of serviceNames) {
    const config = loadConfig(variablesOf(name), Object.fromEntries(secretSettingsOf(name).map(({ variable, holds }) => [variable, standIns[holds]]))) as Record<string, unknown>;
    assert.equal(config.PORT, serviceOf(name).port, name);
    for (const callee of calleesOf(name)) assert.equal(config[urlVariable(callee)], `http://127.0.0.1:${serviceOf(callee).port}`, `${name} → ${callee}`);
  }
});

test('services start after the services they call', () => {
  const order = startOrder();
  assert.deepEqual([...order].sort(), [...serviceNames].sort());
  for (const name of serviceNames) for (const callee of calleesOf(name)) assert.ok(order.indexOf(callee) < order.indexOf(name), `${callee} before ${name}`);
});

test('no two services listen on the same port', () => {
  const ports = serviceNames.flatMap((name) => [serviceOf(name).port, ...(serviceOf(name).metricsPort === undefined ? [] : [serviceOf(name).metricsPort])]);
  assert.equal(new Set(ports).size, ports.length);
});
