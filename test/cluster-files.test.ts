/**
 * Fast checks of the files that bring the shop up on a kind cluster: kind-config.yaml, the
 * Dockerfile and .dockerignore, the Tiltfile and scripts/k8s-secrets.sh. None of them can run
 * here (no Docker engine, no cluster), so they are checked with what does run:
 *
 * - the YAML and the Dockerfile are parsed and held to their rules;
 * - the Tiltfile is evaluated: Starlark is Python-compatible in everything this Tiltfile uses,
 *   so python3 runs it with recording stand-ins for Tilt's functions, against the real k8s/;
 * - the secrets script runs against a fake kubectl, and the Secrets it makes are checked
 *   against every secretKeyRef in k8s/ and against how Postgres and RabbitMQ are configured there;
 * - the environment the images' smoke run gives each service is loaded with its configuration spec.
 *
 * Building and running the images is `npm run images` (too slow for every test run).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { compileCacheVariable, loadConfig, serviceNodeFlags } from '@scaleshop/platform';
import { calleesOf, databaseServiceNames, sagaServiceNames, serviceNames, serviceOf, urlVariable, variablesOf } from '@scaleshop/platform/topology';
import { evaluateTiltfile, manifestFiles, python, root, type Obj } from './tiltfile-harness.ts';

const read = (path: string) => readFileSync(join(root, path), 'utf8');

const services = serviceNames;
const databaseServices = databaseServiceNames;
const sagaServices = sagaServiceNames;

// ---------------------------------------------------------------------------------------------
// k8s/ as plain objects

function manifests(): Obj[] {
  return manifestFiles().flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8'))
      .map((doc) => doc.toJSON() as Obj | null)
      .filter((o): o is Obj => o !== null),
  );
}

const workloadsOf = (objects: Obj[]) => objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const mainContainer = (workload: Obj): Obj => workload.spec.template.spec.containers[0];
const envOf = (container: Obj, name: string): Obj | undefined => (container.env ?? []).find((e: Obj) => e.name === name);

// ---------------------------------------------------------------------------------------------
// kind-config.yaml

describe('kind-config.yaml', () => {
  const config = parse(read('kind-config.yaml')) as Obj;

  test('is a kind v1alpha4 Cluster named scaleshop', () => {
    assert.equal(config.kind, 'Cluster');
    assert.equal(config.apiVersion, 'kind.x-k8s.io/v1alpha4');
    assert.equal(config.name, 'scaleshop');
  });

  test('has one control plane and two workers', () => {
    const roles = (config.nodes as Obj[]).map((n) => n.role);
    assert.deepEqual(roles.filter((r) => r === 'control-plane'), ['control-plane']);
    assert.deepEqual(roles.filter((r) => r === 'worker'), ['worker', 'worker']);
    assert.equal(roles.length, 3);
  });

  test('pins one kindest/node image by tag and sha256 digest on every node', () => {
    const images = new Set((config.nodes as Obj[]).map((n) => n.image));
    assert.equal(images.size, 1, 'every node runs the same image');
    const [image] = [...images];
    assert.match(image, /^kindest\/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
  });

  test('maps no host ports: the UIs are reached through Tilt port-forwards', () => {
    for (const node of config.nodes as Obj[]) assert.equal(node.extraPortMappings, undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile and .dockerignore

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions: comments dropped, continuation lines joined. */
function dockerfileInstructions(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (current === '' && line.trim() === '') continue;
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  return logical.map((l) => {
    const [keyword = '', ...rest] = l.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
}

interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

function dockerfileStages(instructions: Instruction[]): { globalArgs: Record<string, string>; stages: Stage[] } {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      assert.ok(match, `FROM ${instruction.args}`);
      stages.push({ from: match[1]!, name: match[2] ?? String(stages.length), instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(instruction.keyword, 'ARG', 'only ARG may come before the first FROM');
      const [name, value = ''] = instruction.args.split('=');
      globalArgs[name!] = value;
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const instructions = dockerfileInstructions(text);
  const { globalArgs, stages } = dockerfileStages(instructions);
  const stageNames = stages.map((s) => s.name);
  const defaultStage = stages.at(-1)!;
  const devStage = stages.find((s) => s.name === 'dev');
  const imageStages = [defaultStage, devStage].filter((s): s is Stage => s !== undefined);
  const last = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).at(-1);

  test('builds from a Debian-based Node 24 image pinned by tag, never latest', () => {
    assert.doesNotMatch(instructions.map((i) => i.args).join('\n'), /:latest\b/);
    for (const stage of stages) {
      const from = stage.from.replace(/\$\{?(\w+)\}?/g, (_, name: string) => globalArgs[name] ?? '');
      if (stageNames.includes(from)) continue;
      assert.match(from, /^node:24(\.\d+)*-(bookworm|trixie)(-slim)?(@sha256:[0-9a-f]{64})?$/, `stage ${stage.name} FROM ${stage.from}`);
    }
  });

  test('is parameterized by ARG SERVICE and checks it', () => {
    for (const stage of stages.slice(1)) {
      if (stage.instructions.some((i) => /\$\{?SERVICE\b/.test(i.args))) {
        assert.ok(stage.instructions.some((i) => i.keyword === 'ARG' && i.args === 'SERVICE'), `stage ${stage.name} declares ARG SERVICE`);
      }
    }
    const check = instructions.find((i) => i.keyword === 'RUN' && i.args.includes('case "${SERVICE}"'));
    assert.ok(check, 'a RUN refuses an unknown SERVICE');
    for (const service of services) assert.ok(check.args.includes(service), `${service} is accepted`);
  });

  test('installs only the production dependencies of the service and its platform workspace', () => {
    const install = instructions.find((i) => i.keyword === 'RUN' && i.args.includes('npm ci'));
    assert.ok(install);
    assert.match(install.args, /--omit=dev/);
    assert.match(install.args, /--workspace "?services\/\$\{SERVICE\}"?/);
    assert.match(install.args, /--include-workspace-root=false/);
    assert.match(install.args, /test ! -e node_modules\/node\b/, "the root's devDependency `node` stays out");
  });

  test('runs as the numeric user 10001 in every image it produces', () => {
    assert.ok(devStage, 'a dev target for Tilt');
    assert.notEqual(defaultStage.name, 'dev', 'the default target is the production image');
    assert.match(text, /useradd[^\n]*--uid 10001/);
    for (const stage of imageStages) assert.equal(last(stage, 'USER')?.args, '10001', `stage ${stage.name}`);
  });

  test('runs node under tini, with telemetry registered, as exec-form commands', () => {
    for (const stage of imageStages) {
      assert.deepEqual(JSON.parse(last(stage, 'ENTRYPOINT')!.args), ['/usr/bin/tini', '--'], `stage ${stage.name}`);
      const cmd = JSON.parse(last(stage, 'CMD')!.args) as string[];
      assert.equal(cmd[0], 'node');
      assert.deepEqual(cmd.slice(cmd.indexOf('--import'), cmd.indexOf('--import') + 2), ['--import', '@scaleshop/platform/telemetry']);
      assert.equal(cmd.at(-1), 'src/main.ts');
      assert.equal(last(stage, 'WORKDIR')?.args, '/app/services/${SERVICE}');
      // The same node flags as a local service (scripts/local-shop.ts), before the entry point.
      assert.deepEqual(cmd.filter((arg) => serviceNodeFlags.includes(arg)), [...serviceNodeFlags], `stage ${stage.name}: ${cmd.join(' ')}`);
    }
    assert.ok(!(JSON.parse(last(defaultStage, 'CMD')!.args) as string[]).includes('--watch'), 'production does not watch files');
    assert.ok((JSON.parse(last(devStage!, 'CMD')!.args) as string[]).includes('--watch'), 'dev restarts on live update');
    const exported = (JSON.parse(read('services/platform/package.json')) as Obj).exports ?? {};
    assert.ok(exported['./telemetry'], '@scaleshop/platform exports ./telemetry');
  });

  test('fills the compile cache at build time, as the user the image runs as, with and without tracing', () => {
    for (const stage of imageStages) {
      const cache = stage.instructions.find((i) => i.keyword === 'ENV' && i.args.startsWith(`${compileCacheVariable}=`))?.args.split('=')[1];
      assert.ok(cache, `stage ${stage.name} sets ${compileCacheVariable}`);
      const fill = stage.instructions.filter((i) => i.keyword === 'RUN' && i.args.includes('src/main.ts'));
      assert.equal(fill.length, 1, `stage ${stage.name} fills the cache in one RUN`);
      const index = stage.instructions.indexOf(fill[0]!);
      const userThen = stage.instructions.slice(0, index).filter((i) => i.keyword === 'USER').at(-1)?.args;
      assert.equal(userThen, '10001', 'Node keeps a cache per user id: it is filled as the user that runs the service');
      assert.equal(stage.instructions.slice(0, index).filter((i) => i.keyword === 'WORKDIR').at(-1)?.args, '/app/services/${SERVICE}');
      // Started as the CMD starts it, stopped by a configuration every service refuses.
      const starts = fill[0]!.args.split(';').filter((part) => part.includes('src/main.ts'));
      assert.equal(starts.length, 2);
      for (const start of starts) assert.match(start, /PORT=[a-z-]+ .*node --import @scaleshop\/platform\/telemetry src\/main\.ts/);
      assert.ok(starts.some((start) => start.includes('OTEL_EXPORTER_OTLP_ENDPOINT=')), 'the tracing modules load only with tracing on');
      assert.match(fill[0]!.args, new RegExp(`test -n "\\$\\(ls -A ${cache}\\)"`), 'the build fails when nothing was cached');
    }
  });

  test('has nothing architecture-specific', () => {
    const body = instructions.map((i) => `${i.keyword} ${i.args}`).join('\n');
    assert.doesNotMatch(body, /amd64|x86_64|x64|aarch64|arm64|armv8|--platform/);
    assert.doesNotMatch(body, /\b(curl|wget)\b|https?:\/\//, 'no downloads outside the package managers');
  });

  test('copies only paths that exist, for every service', () => {
    for (const service of services) {
      for (const copy of instructions.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from'))) {
        const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          const path = source.replaceAll('${SERVICE}', service);
          assert.ok(existsSync(join(root, path)), `${service}: COPY ${path}`);
        }
      }
    }
  });

  test('.dockerignore keeps host installs, git, local state and the manifests out of the context', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    assert.ok(patterns.some((p) => /^(\*\*\/)?node_modules\/?$/.test(p)), 'node_modules');
    for (const path of ['.git', '.local', 'k8s']) assert.ok(patterns.includes(path) || patterns[0] === '*', path);
    if (patterns[0] === '*') {
      const allowed = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1).replace(/\/$/, ''));
      // The services' sources; the operator's target also copies cdk8s's sources and the experiments' code.
      assert.deepEqual(allowed.sort(), ['cdk8s/package.json', 'cdk8s/src', 'loadtests/lib', 'package-lock.json', 'package.json', 'scripts/scaling', 'services']);
      // Whatever a COPY of the Dockerfile takes is in the context.
      for (const copy of instructions.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from'))) {
        for (const source of copy.args.split(/\s+/).filter((part) => !part.startsWith('--')).slice(0, -1)) {
          assert.ok(allowed.some((path) => source.replaceAll('${SERVICE}', 'order') === path || source.startsWith(`${path}/`)), `COPY ${source} is in the context`);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Tiltfile, evaluated by python3 with recording stand-ins for Tilt's built-ins (tiltfile-harness.ts)

describe('Tiltfile', { skip: python ? false : 'python3 is needed to evaluate the Tiltfile' }, () => {
  const objects = manifests();
  const workloads = workloadsOf(objects);
  const workloadNames = workloads.map((w) => w.metadata.name as string);
  const up = python ? evaluateTiltfile('kind-scaleshop') : { calls: [] };
  const calls = (fn: string) => up.calls.filter((c) => c.fn === fn);
  const builds = calls('docker_build');
  const resources = new Map(calls('k8s_resource').map((c) => [(c.args[0] ?? c.kwargs.workload) as string, c.kwargs]));

  test('evaluates without error in the kind-scaleshop context', () => {
    assert.equal(up.failed, undefined);
  });

  test('allows only the kind-scaleshop context and refuses every other before doing anything', () => {
    assert.deepEqual(
      calls('allow_k8s_contexts').map((c) => c.args[0]),
      ['kind-scaleshop'],
    );
    for (const other of ['kind-kind', 'docker-desktop', 'minikube', 'prod']) {
      const run = evaluateTiltfile(other);
      assert.match(run.failed ?? '', /kind-scaleshop/, other);
      assert.deepEqual(
        run.calls.filter((c) => !['version_settings', 'allow_k8s_contexts'].includes(c.fn)),
        [],
        `${other}: nothing runs`,
      );
    }
  });

  test('builds exactly the service images scaleshop/<service>, one for each in the topology, from the dev target', () => {
    assert.deepEqual(builds.map((b) => b.args[0]).sort(), services.map((s) => `scaleshop/${s}`).sort());
    const dockerfile = dockerfileStages(dockerfileInstructions(read('Dockerfile')));
    for (const build of builds) {
      const service = (build.args[0] as string).split('/')[1]!;
      assert.equal(build.kwargs.context, '.');
      assert.deepEqual(build.kwargs.build_args, { SERVICE: service, WEB: service === 'storefront' ? 'build' : 'none' });
      assert.ok(existsSync(join(root, build.kwargs.dockerfile)));
      assert.ok(dockerfile.stages.some((s) => s.name === build.kwargs.target), `target ${build.kwargs.target}`);
      for (const path of build.kwargs.only as string[]) assert.ok(existsSync(join(root, path)), `only: ${path}`);
    }
  });

  test('live-updates each image: sources synced into the paths the image runs from, a full build on a package change', () => {
    for (const build of builds) {
      const service = (build.args[0] as string).split('/')[1]!;
      const steps = build.kwargs.live_update as Obj[];
      assert.equal(steps[0]!.step, 'fall_back_on');
      for (const file of ['package.json', 'package-lock.json', 'services/platform/package.json', `services/${service}/package.json`]) {
        assert.ok(steps[0]!.files.includes(file), `${service} falls back on ${file}`);
      }
      // Into a staging folder, then copied in place by a run() step (test/live-update.test.ts runs it);
      // the storefront's pages too, which a last step builds again (test/storefront-live-update.test.ts).
      const synced = ['services/platform/src', `services/${service}/src`, ...(service === 'storefront' ? ['services/storefront/web'] : [])];
      const syncs = steps.filter((s) => s.step === 'sync').map((s) => [s.local, s.remote]);
      assert.deepEqual(syncs.sort(), synced.map((local) => [local, `/live-update/app/${local}`]).sort());
      const runs = steps.filter((s) => s.step === 'run');
      assert.ok(steps.slice(syncs.length + 1).every((s) => s.step === 'run'), `${service}: the run() steps come after the syncs`);
      const copy = runs[0]!;
      assert.deepEqual(copy.trigger, [], 'the copy runs after every sync');
      for (const live of synced.map((local) => `/app/${local}`)) {
        assert.ok((copy.cmd as string).includes(`cp -R /live-update${live}/. ${live}/`), `${service}: copies onto ${live}`);
      }
      if (service === 'storefront') {
        assert.equal(runs.length, 2);
        assert.deepEqual(runs[1]!.trigger, ['services/storefront/web'], 'the pages are built again only when their sources changed');
        assert.match(runs[1]!.cmd as string, /vite\.js build --config web\/vite\.config\.ts --configLoader native --bypass-lock$/);
      } else {
        assert.equal(runs.length, 1, `${service}: only the copy`);
      }
      for (const [local] of syncs) assert.ok(statSync(join(root, local!)).isDirectory());
      for (const file of steps[0]!.files as string[]) {
        assert.ok((build.kwargs.only as string[]).some((o) => file === o || file.startsWith(`${o}/`)), `${file} is in the build context`);
      }
    }
  });

  test('synced and copied-to paths are writable in the pods: under a volume wherever the root filesystem is read-only', () => {
    for (const build of builds) {
      const service = (build.args[0] as string).split('/')[1]!;
      const deployment = workloads.find((w) => w.kind === 'Deployment' && w.metadata.name === service);
      assert.ok(deployment, `Deployment ${service}`);
      const container = (deployment.spec.template.spec.containers as Obj[]).find((c) => c.image.split(':')[0] === build.args[0]);
      assert.ok(container, `${service} runs ${build.args[0]}`);
      assert.equal(container.command, undefined, `${service} keeps the image's entrypoint (tini, node --watch in dev)`);
      assert.equal(container.args, undefined, `${service} keeps the image's command`);
      if (container.securityContext?.readOnlyRootFilesystem !== true) continue;
      const mounts = (container.volumeMounts ?? []).map((m: Obj) => m.mountPath as string);
      const runs = (build.kwargs.live_update as Obj[]).filter((s) => s.step === 'run');
      const copiedTo = [...(runs[0]!.cmd as string).matchAll(/cp -R \S+ (\S+)\/(?:;|$)/g)].map((m) => m[1]!);
      assert.equal(copiedTo.length, service === 'storefront' ? 3 : 2, `${service}: a copy target per synced folder`);
      // The storefront's rebuild writes its pages into dist.
      const builtInto = service === 'storefront' ? ['/app/services/storefront/dist'] : [];
      const targets = [...(build.kwargs.live_update as Obj[]).filter((s) => s.step === 'sync').map((s) => s.remote as string), ...copiedTo, ...builtInto];
      for (const target of targets) {
        assert.ok(
          mounts.some((m: string) => target === m || target.startsWith(`${m}/`)),
          `${service}: ${target} is on a volume`,
        );
      }
    }
  });

  test('creates the Secrets with scripts/k8s-secrets.sh before deploying, but not on tilt down', () => {
    const locals = calls('local');
    assert.equal(locals.length, 1);
    assert.deepEqual(locals[0]!.args[0], ['bash', 'scripts/k8s-secrets.sh']);
    assert.equal(locals[0]!.kwargs.env.KUBE_CONTEXT, 'kind-scaleshop');
    const firstDeploy = up.calls.findIndex((c) => c.fn === 'k8s_yaml');
    assert.ok(up.calls.indexOf(locals[0]!) < firstDeploy);
    const down = evaluateTiltfile('kind-scaleshop', 'down');
    assert.equal(down.failed, undefined);
    assert.deepEqual(down.calls.filter((c) => c.fn === 'local'), []);
  });

  test('deploys k8s/ and re-synthesizes it when cdk8s/ changes', () => {
    const deployed = calls('k8s_yaml').flatMap((c) => c.args[0] as string[]);
    assert.deepEqual(deployed.sort(), manifestFiles().sort());
    const synth = calls('local_resource').find((c) => c.args[0] === 'synth');
    assert.ok(synth);
    assert.equal(synth.args[1], 'npm run synth');
    assert.ok((synth.kwargs.deps as string[]).includes('cdk8s/src'));
    assert.ok((JSON.parse(read('package.json')) as Obj).scripts.synth, 'npm run synth exists');
    assert.ok(calls('watch_file').some((c) => c.args[0] === 'k8s'));
  });

  test('labels every workload app, infra or observability, and names only workloads that exist', () => {
    for (const name of workloadNames) {
      const labels = resources.get(name)?.labels as string[] | undefined;
      assert.ok(labels && labels.length === 1 && ['app', 'infra', 'observability'].includes(labels[0]!), `${name}: ${labels}`);
    }
    for (const name of resources.keys()) assert.ok(workloadNames.includes(name), `k8s_resource(${name}) names a workload`);
    for (const service of services) assert.deepEqual(resources.get(service)?.labels, ['app']);
    for (const name of ['jaeger', 'mailpit']) if (resources.has(name)) assert.deepEqual(resources.get(name)!.labels, ['observability']);
  });

  test('services wait for their Postgres and RabbitMQ', () => {
    const known = new Set([...workloadNames, ...calls('local_resource').map((c) => c.args[0] as string)]);
    for (const [name, kwargs] of resources) {
      for (const dep of (kwargs.resource_deps ?? []) as string[]) assert.ok(known.has(dep), `${name} depends on ${dep}, which exists`);
    }
    for (const service of databaseServices) {
      const deps = resources.get(service)!.resource_deps as string[];
      assert.ok(deps.some((d) => d === `postgres-${service}` || d === 'postgres'), `${service} waits for its Postgres`);
    }
    for (const service of sagaServices) assert.ok((resources.get(service)!.resource_deps as string[]).includes('rabbitmq'), `${service} waits for RabbitMQ`);
  });

  test('port-forwards the gateway, Jaeger 16686, RabbitMQ 15672 and Mailpit 8025 to ports the containers expose', () => {
    const expected: Record<string, number> = { gateway: serviceOf('gateway').port, jaeger: 16686, rabbitmq: 15672, mailpit: 8025 };
    for (const [name, port] of Object.entries(expected)) {
      const forwards = (resources.get(name)?.port_forwards ?? []) as Obj[];
      assert.deepEqual(forwards.map((f) => f.local_port), [port], name);
      const workload = workloads.find((w) => w.metadata.name === name)!;
      const exposed = (mainContainer(workload).ports ?? []).map((p: Obj) => p.containerPort);
      assert.ok(exposed.includes(forwards[0]!.container_port ?? port), `${name} exposes ${port}`);
    }
  });

  test('forwards no metrics port: the gateway’s 9464 stays inside the cluster', () => {
    for (const [name, kwargs] of resources) {
      for (const forward of (kwargs.port_forwards ?? []) as Obj[]) {
        assert.notEqual(forward.local_port, 9464, name);
        assert.notEqual(forward.container_port, 9464, name);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// scripts/k8s-secrets.sh, against a fake kubectl

const fakeKubectl = String.raw`#!/usr/bin/env node
// Just enough of kubectl for scripts/k8s-secrets.sh, keeping its objects in $FAKE_KUBE_STATE.
const fs = require('node:fs'), path = require('node:path');
const state = process.env.FAKE_KUBE_STATE;
// The processes of a pipeline run at once: the calls go to an append-only log, and the objects
// are replaced atomically, by the only two verbs that change them.
const file = path.join(state, 'db.json');
const db = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { namespaces: [], secrets: {} };
const save = () => { fs.writeFileSync(file + '.' + process.pid, JSON.stringify(db)); fs.renameSync(file + '.' + process.pid, file); };
let args = process.argv.slice(2), context, namespace;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--context') { context = args[i + 1]; args.splice(i, 2); i--; }
  else if (args[i] === '-n' || args[i] === '--namespace') { namespace = args[i + 1]; args.splice(i, 2); i--; }
}
fs.appendFileSync(path.join(state, 'calls.jsonl'), JSON.stringify({ context, namespace, args }) + '\n');
const stdin = () => fs.readFileSync(0, 'utf8');
const out = (s) => process.stdout.write(s);
const [verb, what, name] = args;
if (verb === 'get' && what === 'namespace') process.exit(db.namespaces.includes(name) ? 0 : 1);
else if (verb === 'create' && what === 'namespace') { db.namespaces.push(name); save(); }
else if (verb === 'get' && what === 'secrets') out(Object.keys(db.secrets).map((n) => n + ' ').join(''));
else if (verb === 'get' && what === 'secret') {
  const key = /\{\.data\.([\w.-]+)\}/.exec(args.find((a) => a.startsWith('jsonpath=')) ?? args[args.indexOf('-o') + 1])[1];
  out(db.secrets[name].data[key]);
} else if (verb === 'create' && what === 'secret' && args[2] === 'generic' && args.includes('--dry-run=client')) {
  const dir = args.find((a) => a.startsWith('--from-file=')).slice('--from-file='.length);
  const data = {};
  for (const f of fs.readdirSync(dir)) data[f] = fs.readFileSync(path.join(dir, f)).toString('base64');
  out(JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: args[3], namespace }, data }));
} else if (verb === 'label' && args.includes('--local')) {
  const obj = JSON.parse(stdin());
  obj.metadata.labels = Object.fromEntries(args.filter((a) => /^[\w./-]+=/.test(a)).map((a) => a.split('=')));
  out(JSON.stringify(obj));
} else if (verb === 'apply') {
  const obj = JSON.parse(stdin());
  if (!db.namespaces.includes(obj.metadata.namespace)) { console.error('namespace not found'); process.exit(1); }
  db.secrets[obj.metadata.name] = obj;
  save();
} else { console.error('fake kubectl: unexpected ' + args.join(' ')); process.exit(9); }
`;

interface FakeCluster {
  namespaces: string[];
  secrets: Record<string, { metadata: Obj; data: Record<string, string> }>;
  calls: Array<{ context?: string; namespace?: string; args: string[] }>;
}

describe('scripts/k8s-secrets.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-secrets-'));
  writeFileSync(join(dir, 'kubectl'), fakeKubectl);
  chmodSync(join(dir, 'kubectl'), 0o755);
  const runScript = () => {
    const run = spawnSync('bash', [join(root, 'scripts/k8s-secrets.sh')], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, FAKE_KUBE_STATE: dir, KUBE_CONTEXT: 'kind-scaleshop' },
    });
    assert.equal(run.status, 0, run.stderr);
    const calls = readFileSync(join(dir, 'calls.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as FakeCluster['calls'][number]);
    return { output: run.stdout + run.stderr, cluster: { ...(JSON.parse(readFileSync(join(dir, 'db.json'), 'utf8')) as FakeCluster), calls } };
  };
  const first = runScript();
  const second = runScript();
  rmSync(dir, { recursive: true, force: true });

  const objects = manifests();
  const workloads = workloadsOf(objects);
  const secrets = second.cluster.secrets;
  const value = (secret: string, key: string) => Buffer.from(secrets[secret]!.data[key]!, 'base64').toString();

  test('talks only to the kind-scaleshop context and the scaleshop namespace, which it creates', () => {
    for (const call of second.cluster.calls) {
      assert.equal(call.context, 'kind-scaleshop', call.args.join(' '));
      // label --local works on its input; apply takes the namespace from the object
      if (!['label', 'apply'].includes(call.args[0]!) && !call.args.includes('namespace')) assert.equal(call.namespace, 'scaleshop', call.args.join(' '));
    }
    assert.deepEqual(second.cluster.namespaces, ['scaleshop']);
    for (const secret of Object.values(second.cluster.secrets)) assert.equal(secret.metadata.namespace, 'scaleshop');
  });

  test('creates every Secret key the manifests reference', () => {
    const refs = new Set<string>();
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(visit);
      else if (node && typeof node === 'object') {
        const ref = (node as Obj).secretKeyRef;
        if (ref) refs.add(`${ref.name}/${ref.key}`);
        Object.values(node).forEach(visit);
      }
    };
    visit(objects);
    assert.ok(refs.size > 0);
    for (const ref of refs) {
      const [name, key] = ref.split('/') as [string, string];
      assert.ok(secrets[name]?.data[key] !== undefined, `Secret ${name} has key ${key}`);
    }
  });

  test('gives each service a DATABASE_URL that matches its Postgres: host, database, user and password', () => {
    for (const deployment of workloads.filter((w) => w.kind === 'Deployment')) {
      const ref = envOf(mainContainer(deployment), 'DATABASE_URL')?.valueFrom?.secretKeyRef;
      if (!ref) continue;
      const url = new URL(value(ref.name, ref.key));
      assert.equal(url.protocol, 'postgres:');
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === url.hostname);
      assert.ok(service, `${deployment.metadata.name}: Service ${url.hostname}`);
      assert.ok(service.spec.ports.some((p: Obj) => p.port === Number(url.port)), `${url.hostname} serves port ${url.port}`);
      const postgres = workloads.find(
        (w) => w.kind === 'StatefulSet' && Object.entries(service.spec.selector as Obj).every(([k, v]) => w.spec.template.metadata.labels[k] === v),
      );
      assert.ok(postgres, `${url.hostname} selects a StatefulSet`);
      const container = mainContainer(postgres);
      assert.equal(decodeURIComponent(url.username), envOf(container, 'POSTGRES_USER')?.value ?? 'postgres');
      const databases = [envOf(container, 'POSTGRES_DB')?.value, ...Array.from(JSON.stringify(postgres).matchAll(/CREATE DATABASE \\?"?(\w+)/g), (m) => m[1])];
      assert.ok(databases.includes(url.pathname.slice(1)), `${deployment.metadata.name}: database ${url.pathname.slice(1)} is created by ${postgres.metadata.name}`);
      const passwordRef = envOf(container, 'POSTGRES_PASSWORD')!.valueFrom.secretKeyRef;
      assert.equal(decodeURIComponent(url.password), value(passwordRef.name, passwordRef.key));
    }
  });

  test('gives the saga services an AMQP URL with the credentials RabbitMQ starts with', () => {
    const rabbitmq = workloads.find((w) => w.metadata.name === 'rabbitmq')!;
    const user = envOf(mainContainer(rabbitmq), 'RABBITMQ_DEFAULT_USER')!.valueFrom.secretKeyRef;
    const pass = envOf(mainContainer(rabbitmq), 'RABBITMQ_DEFAULT_PASS')!.valueFrom.secretKeyRef;
    const url = new URL(value('rabbitmq-url', 'url'));
    assert.equal(url.protocol, 'amqp:');
    // Fully qualified: KEDA's scaler, in the namespace keda, reads the same URL.
    assert.equal(url.hostname, 'rabbitmq.scaleshop.svc.cluster.local');
    assert.equal(url.port, '5672');
    assert.equal(decodeURIComponent(url.username), value(user.name, user.key));
    assert.equal(decodeURIComponent(url.password), value(pass.name, pass.key));
  });

  test('makes an Ed25519 key pair for the access tokens', () => {
    const privateKey = createPrivateKey(value('scaleshop-jwt', 'private.pem'));
    const publicKey = createPublicKey(value('scaleshop-jwt', 'public.pem'));
    assert.equal(privateKey.asymmetricKeyType, 'ed25519');
    assert.ok(verify(null, Buffer.from('token'), publicKey, sign(null, Buffer.from('token'), privateKey)));
  });

  test('keeps existing credentials on a second run and prints no secret value', () => {
    for (const [name, secret] of Object.entries(first.cluster.secrets)) {
      assert.deepEqual(secrets[name]!.data, secret.data, `${name} unchanged`);
    }
    assert.doesNotMatch(second.output, /new (password|credentials|Ed25519)/);
    for (const secret of Object.values(secrets)) {
      for (const encoded of Object.values(secret.data)) {
        const text = Buffer.from(encoded, 'base64').toString();
        if (text.length < 16) continue; // the broker's user name, `scaleshop`, is no secret
        assert.ok(!first.output.includes(text) && !second.output.includes(text), 'no value in the output');
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// scripts/images.sh: the environment its smoke run gives each image (building and running the
// images themselves is `npm run images`, too slow for every test run)

describe('scripts/images.sh', () => {
  const environmentOf = (service: string): Record<string, string> => {
    const run = spawnSync('bash', [join(root, 'scripts/images.sh'), 'env', service], { cwd: root, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    return Object.fromEntries(
      run.stdout
        .split('\0')
        .filter((entry) => entry !== '')
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
  };
  const environments = new Map(services.map((service) => [service, environmentOf(service)]));

  test('gives each service an environment its configuration spec accepts, with nothing it does not read', () => {
    for (const [service, environment] of environments) {
      const known = variablesOf(service);
      assert.deepEqual(Object.keys(environment).filter((key) => !(key in known)), [], `${service}: variables it does not read`);
      assert.doesNotThrow(() => loadConfig(known, environment), `${service}`);
    }
  });

  test('points each service at the ports the services it calls listen on, none of them a local shop’s', () => {
    for (const service of services) {
      const environment = environments.get(service)!;
      assert.notEqual(Number(environment.PORT), serviceOf(service).port, `${service} keeps clear of local mode's port`);
      for (const callee of calleesOf(service)) {
        assert.equal(new URL(environment[urlVariable(callee)]!).port, environments.get(callee)!.PORT, `${service} → ${callee}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// scripts/cluster-up.sh and cluster-down.sh, against fake docker, kind, kubectl and tilt

const fakeTools = String.raw`
// Just enough of docker, kind, kubectl and tilt for the cluster scripts, keeping what they
// made in $FAKE_STATE/state.json and every call in $FAKE_STATE/calls.jsonl.
const fs = require('node:fs'), path = require('node:path');
const dir = process.env.FAKE_STATE, file = path.join(dir, 'state.json');
const state = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8'))
  : { containers: {}, clusters: [], nodeFiles: {}, applied: [] };
const [tool, ...args] = process.argv.slice(2);
const stdin = args.includes('-i') || (tool === 'kubectl' && args.includes('-')) ? fs.readFileSync(0, 'utf8') : undefined;
fs.appendFileSync(path.join(dir, 'calls.jsonl'), JSON.stringify({ tool, args, stdin }) + '\n');
const save = () => fs.writeFileSync(file, JSON.stringify(state));
const out = (s) => process.stdout.write(s);
const fail = (s) => { process.stderr.write(s + '\n'); process.exit(1); };
const nodes = (cluster) => [cluster + '-control-plane', cluster + '-worker', cluster + '-worker2'];
if (tool === 'docker') {
  const [verb] = args;
  const name = args.at(-1), container = state.containers[name];
  if (verb === 'info') process.exit(0);
  else if (verb === 'inspect') {
    if (!container) fail('Error: No such object: ' + name);
    const format = args.find((a, i) => args[i - 1] === '-f') ?? '';
    if (format === '{{.State.Running}}') out(String(container.running) + '\n');
    else if (format.includes('PortBindings')) out(container.port + '\n');
    else if (format === '{{json .NetworkSettings.Networks.kind}}') out(container.networks.includes('kind') ? '{"NetworkID":"x"}\n' : 'null\n');
    else if (format !== '') fail('fake docker: unexpected format ' + format);
  } else if (verb === 'run') {
    const get = (flag) => args[args.indexOf(flag) + 1];
    state.containers[get('--name')] = { running: true, port: get('-p').split(':')[1], bind: get('-p'), image: name, networks: [get('--network')] };
    save();
  } else if (verb === 'start') { container.running = true; save(); }
  else if (verb === 'rm') { delete state.containers[name]; save(); }
  else if (verb === 'network' && args[1] === 'connect') { container.networks.push(args[2]); save(); }
  else if (verb === 'exec') {
    const rest = args.slice(1).filter((a) => a !== '-i');
    const [node, command, ...operands] = rest;
    if (!state.clusters.some((c) => nodes(c).includes(node))) fail('Error: No such container: ' + node);
    state.nodeFiles[node] ??= {};
    if (command === 'mkdir') state.nodeFiles[node][operands.at(-1) + '/'] = '';
    else if (command === 'cp' && operands[0] === '/dev/stdin') {
      if (!((path.dirname(operands[1]) + '/') in state.nodeFiles[node])) fail('cp: no such directory');
      state.nodeFiles[node][operands[1]] = stdin;
    } else fail('fake docker exec: unexpected ' + rest.join(' '));
    save();
  } else fail('fake docker: unexpected ' + args.join(' '));
} else if (tool === 'kind') {
  const [verb, what] = args;
  const name = args[args.indexOf('--name') + 1];
  if (verb === 'version') out('kind v0.33.0 go1.25.0 linux/amd64\n');
  else if (verb === 'get' && what === 'clusters') out(state.clusters.map((c) => c + '\n').join(''));
  else if (verb === 'get' && what === 'nodes') out(nodes(name).join('\n') + '\n');
  else if (verb === 'create' && what === 'cluster') {
    const config = fs.readFileSync(args[args.indexOf('--config') + 1], 'utf8');
    state.clusters.push(/^name: (\S+)/m.exec(config)[1]);
    save();
  } else if (verb === 'delete' && what === 'cluster') { state.clusters = state.clusters.filter((c) => c !== name); save(); }
  else fail('fake kind: unexpected ' + args.join(' '));
} else if (tool === 'kubectl') {
  if (args.includes('apply')) { state.applied.push({ context: args[args.indexOf('--context') + 1], yaml: stdin }); save(); }
  else fail('fake kubectl: unexpected ' + args.join(' '));
} else if (tool === 'tilt') process.exit(0);
`;

describe('scripts/cluster-up.sh and cluster-down.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-scripts-'));
  writeFileSync(join(dir, 'fake.cjs'), fakeTools);
  for (const tool of ['docker', 'kind', 'kubectl', 'tilt']) {
    writeFileSync(join(dir, tool), `#!/bin/sh\nexec node "${join(dir, 'fake.cjs')}" ${tool} "$@"\n`);
    chmodSync(join(dir, tool), 0o755);
  }
  interface Call { tool: string; args: string[]; stdin?: string }
  interface State {
    containers: Record<string, { running: boolean; port: string; bind: string; image: string; networks: string[] }>;
    clusters: string[];
    nodeFiles: Record<string, Record<string, string>>;
    applied: { context: string; yaml: string }[];
  }
  const runScript = (script: string, args: string[] = []) => {
    rmSync(join(dir, 'calls.jsonl'), { force: true });
    const run = spawnSync('bash', [join(root, 'scripts', script), ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, FAKE_STATE: dir },
    });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const calls = readFileSync(join(dir, 'calls.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Call);
    return { calls, state: JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State };
  };
  const first = runScript('cluster-up.sh', ['--stream']);
  const second = runScript('cluster-up.sh');
  const down = runScript('cluster-down.sh');
  rmSync(dir, { recursive: true, force: true });

  const nodes = ['scaleshop-control-plane', 'scaleshop-worker', 'scaleshop-worker2'];
  const index = (calls: Call[], match: (call: Call) => boolean) => calls.findIndex(match);
  const isTiltUp = (call: Call) => call.tool === 'tilt' && call.args[0] === 'up';

  test('cluster:up starts a registry published on the host’s loopback only, port 5001, pinned by tag', () => {
    const registry = first.state.containers['scaleshop-registry'];
    assert.ok(registry?.running);
    assert.equal(registry.bind, '127.0.0.1:5001:5000');
    assert.match(registry.image, /^registry:3\.\d+\.\d+$/);
  });

  test('then creates the cluster from kind-config.yaml, and wires every node’s containerd to the registry', () => {
    assert.deepEqual(first.state.clusters, ['scaleshop']);
    assert.ok(index(first.calls, (c) => c.tool === 'docker' && c.args[0] === 'run') < index(first.calls, (c) => c.tool === 'kind' && c.args[0] === 'create'));
    for (const node of nodes) {
      assert.equal(first.state.nodeFiles[node]?.['/etc/containerd/certs.d/localhost:5001/hosts.toml'], '[host."http://scaleshop-registry:5000"]\n', node);
    }
    assert.ok(first.state.containers['scaleshop-registry']!.networks.includes('kind'), 'on the kind network, where the nodes resolve its name');
  });

  test('publishes the registry in kube-public/local-registry-hosting (KEP-1755), which Tilt reads, before tilt up', () => {
    const applied = first.state.applied.at(-1)!;
    assert.equal(applied.context, 'kind-scaleshop');
    const configMap = parse(applied.yaml) as Obj;
    assert.equal(configMap.kind, 'ConfigMap');
    assert.deepEqual(configMap.metadata, { name: 'local-registry-hosting', namespace: 'kube-public' });
    assert.equal((parse(configMap.data['localRegistryHosting.v1']) as Obj).host, 'localhost:5001');
    assert.ok(index(first.calls, (c) => c.tool === 'kubectl') < index(first.calls, isTiltUp));
    assert.deepEqual(first.calls.at(-1), { tool: 'tilt', args: ['up', '--context', 'kind-scaleshop', '--stream'] });
  });

  test('a second cluster:up creates nothing again and still wires the registry (an older cluster gets it too)', () => {
    assert.equal(index(second.calls, (c) => c.tool === 'docker' && ['run', 'start'].includes(c.args[0]!)), -1);
    assert.equal(index(second.calls, (c) => c.tool === 'kind' && c.args[0] === 'create'), -1);
    assert.equal(index(second.calls, (c) => c.tool === 'docker' && c.args[0] === 'network'), -1, 'already on the kind network');
    assert.equal(second.calls.filter((c) => c.tool === 'docker' && c.args.includes('/dev/stdin')).length, nodes.length);
    assert.ok(index(second.calls, (c) => c.tool === 'kubectl') >= 0);
    assert.ok(isTiltUp(second.calls.at(-1)!));
  });

  test('cluster:down removes the shop, the cluster and the registry', () => {
    assert.ok(down.calls.some((c) => c.tool === 'tilt' && c.args[0] === 'down' && c.args.includes('kind-scaleshop')));
    assert.deepEqual(down.state.clusters, []);
    assert.equal(down.state.containers['scaleshop-registry'], undefined);
  });
});
