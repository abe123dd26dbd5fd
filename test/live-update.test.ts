/**
 * Tilt's live update restarts a service on every edit, not only the first.
 *
 * Tilt copies edited files into a container by piping a tar to `tar -C / -x -f -` there
 * (tilt-dev/tilt internal/containerupdate), then runs the run() steps with `sh -c`. GNU tar
 * replaces each file, so the file gets a new inode; `node --watch` watches the inodes it loaded
 * and, after a restart, skips a path it already watches, so a file synced straight over the
 * running sources restarts the service once and never again.
 *
 * This test plays those steps as Tilt does, with real node and real GNU tar, in a temporary folder
 * standing for the container's root: the Tiltfile's own live_update steps (evaluated by
 * tiltfile-harness.ts) and the Dockerfile dev target's own command and working directory. It
 * replaces one source file three times and expects three restarts, each running the new code.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { containerPathOf, evaluateTiltfile, gnuTar, python, root, runSteps, syncAsTilt, type Obj, type RunStep, type SyncStep } from './tiltfile-harness.ts';

const service = 'order';
/** The file edited three times: a platform source, as every service's image holds one. */
const editedFile = 'services/platform/src/version.ts';

/** The dev target's CMD and WORKDIR, for SERVICE=service. */
function devCommand(): { argv: string[]; workdir: string } {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const dev = /^FROM\s+\S+\s+AS\s+dev\s*$([\s\S]*?)(?=^FROM\s)/im.exec(dockerfile)?.[1];
  assert.ok(dev, 'the Dockerfile has a dev stage');
  const cmd = [...dev.matchAll(/^CMD\s+(\[.*\])\s*$/gm)].at(-1)?.[1];
  const workdir = [...dev.matchAll(/^WORKDIR\s+(\S+)\s*$/gm)].at(-1)?.[1];
  assert.ok(cmd && workdir, 'the dev stage has a CMD and a WORKDIR');
  return { argv: JSON.parse(cmd) as string[], workdir: workdir.replaceAll('${SERVICE}', service) };
}

/**
 * What the dev image holds, reduced to what matters: the service's entry point importing a
 * platform module through the @scaleshop/platform workspace link, and a stand-in telemetry module
 * for the command's --import.
 */
function installImage(container: string, sourceOf: (version: string) => string): void {
  const file = (path: string, text: string) => {
    mkdirSync(dirname(join(container, path)), { recursive: true });
    writeFileSync(join(container, path), text);
  };
  file('app/services/platform/package.json', JSON.stringify({ name: '@scaleshop/platform', type: 'module', exports: { './telemetry': './src/telemetry.ts', './version': './src/version.ts' } }));
  file('app/services/platform/src/telemetry.ts', '// stand-in: the real one registers OpenTelemetry\n');
  file('app/services/platform/src/version.ts', sourceOf('v0'));
  file(`app/services/${service}/package.json`, JSON.stringify({ name: `@scaleshop/${service}`, type: 'module' }));
  file(
    `app/services/${service}/src/main.ts`,
    [
      "import { version } from '@scaleshop/platform/version';",
      'process.stdout.write(`running ${version} ${process.pid}\\n`);',
      'const alive = setInterval(() => {}, 1000);',
      "process.on('SIGTERM', () => clearInterval(alive));",
      '',
    ].join('\n'),
  );
  mkdirSync(join(container, 'app/node_modules/@scaleshop'), { recursive: true });
  symlinkSync('../../services/platform', join(container, 'app/node_modules/@scaleshop/platform'));
}

describe('live update', { skip: !python ? 'python3 is needed to evaluate the Tiltfile' : !gnuTar ? 'GNU tar is needed (Tilt extracts with the container’s tar)' : false }, () => {
  test('three edits of one file, each copied in as Tilt does (tar extraction, a new inode), give three restarts running the new code', async () => {
    const up = evaluateTiltfile('kind-scaleshop');
    const build = up.calls.find((call) => call.fn === 'docker_build' && call.args[0] === `scaleshop/${service}`);
    assert.ok(build, `docker_build(scaleshop/${service})`);
    const steps = build.kwargs.live_update as Obj[];
    const syncs = steps.filter((step) => step.step === 'sync') as SyncStep[];
    const runs = steps.filter((step) => step.step === 'run') as RunStep[];
    const sync = syncs.find((candidate) => editedFile.startsWith(`${candidate.local}/`));
    assert.ok(sync, `a sync step covers ${editedFile}`);
    const { argv, workdir } = devCommand();
    assert.equal(argv[0], 'node');

    const scratch = mkdtempSync(join(tmpdir(), 'live-update-'));
    const container = join(scratch, 'container');
    const repository = join(scratch, 'repository');
    const archive = join(scratch, 'archive');
    const sourceOf = (version: string) => `export const version = '${version}';\n`;
    installImage(container, sourceOf);
    // The emptyDirs the manifests mount exist from the start, empty (the staging folder) or seeded.
    for (const { remote } of syncs) mkdirSync(join(container, dirname(remote)), { recursive: true });

    const child = spawn(process.execPath, argv.slice(1), { cwd: join(container, workdir), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const running = (version: string) => [...output.matchAll(new RegExp(`^running ${version} (\\d+)$`, 'gm'))].map((match) => Number(match[1]));
    const waitFor = async (version: string, timeoutMs: number): Promise<number> => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const [pid] = running(version);
        if (pid !== undefined) return pid;
        if (child.exitCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.fail(`${version} never ran within ${timeoutMs} ms. Output:\n${output}`);
    };

    try {
      const pids = [await waitFor('v0', 20_000)];
      for (const version of ['v1', 'v2', 'v3']) {
        mkdirSync(dirname(join(repository, editedFile)), { recursive: true });
        writeFileSync(join(repository, editedFile), sourceOf(version));

        // A second name for the file as it is now keeps its inode in use, so a replaced file
        // must show another inode number.
        const extracted = join(container, containerPathOf(sync, editedFile));
        const probe = join(scratch, `probe-${version}`);
        const before = statSync(extracted, { throwIfNoEntry: false });
        if (before) linkSync(extracted, probe);
        syncAsTilt({ container, archive, sync, file: editedFile, content: readFileSync(join(repository, editedFile)) });
        if (before) assert.notEqual(statSync(extracted).ino, statSync(probe).ino, 'GNU tar replaced the file, as in the container');

        runSteps(runs, editedFile, container);
        pids.push(await waitFor(version, 15_000));
      }
      assert.equal(new Set(pids).size, 4, `a new process each time: ${pids.join(', ')}`);
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
