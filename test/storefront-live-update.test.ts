/**
 * Tilt's live update of the storefront: an edit of its pages is served without an image build or
 * a restart.
 *
 * Plays the Tiltfile's own live_update steps for scaleshop/storefront (evaluated by
 * tiltfile-harness.ts) as Tilt does, in a temporary folder standing for the container's root:
 * the edited file copied in by a tar extraction into the staging folder, then the run() steps it
 * triggers, which copy it into place and build the pages again with the real Vite. The running
 * storefront server, started once on the first build, must then serve the edit, and an edit of
 * the server's own sources must not trigger a build.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '@scaleshop/platform';
import { testLogger } from '@scaleshop/platform/testing';
import { createStorefront } from '../services/storefront/src/app.ts';
import { storefrontConfig } from '../services/storefront/src/config.ts';
import { evaluateTiltfile, gnuTar, python, root, runSteps, syncAsTilt, type Obj, type RunStep, type SyncStep } from './tiltfile-harness.ts';

/** A page's component, and a text of it the edit changes. */
const editedFile = 'services/storefront/web/src/pages/Order.tsx';
const before = 'Trace of the checkout';
const after = 'Trace of this checkout, live-updated';
/** The environment the steps run in: the ENV of the Dockerfile's dev stage (NODE_ENV=development). */
function devImageEnv(): Record<string, string> {
  const dev = /^FROM\s+\S+\s+AS\s+dev\s*$([\s\S]*?)(?=^FROM\s)/im.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
  assert.ok(dev, 'the Dockerfile has a dev stage');
  const env = Object.fromEntries([...dev.matchAll(/^ENV\s+(\w+)=(\S+)\s*$/gm)].map((match) => [match[1]!, match[2]!]));
  assert.ok(env.NODE_ENV, 'the dev stage sets NODE_ENV');
  return env;
}

describe('live update of the storefront', { skip: !python ? 'python3 is needed to evaluate the Tiltfile' : !gnuTar ? 'GNU tar is needed (Tilt extracts with the container’s tar)' : false }, () => {
  test('an edit of a page is synced, built again in the container and served by the running server at the next page load', async () => {
    const build = evaluateTiltfile('kind-scaleshop').calls.find((call) => call.fn === 'docker_build' && call.args[0] === 'scaleshop/storefront');
    assert.ok(build, 'docker_build(scaleshop/storefront)');
    const steps = build.kwargs.live_update as Obj[];
    const syncs = steps.filter((step) => step.step === 'sync') as SyncStep[];
    const runs = steps.filter((step) => step.step === 'run') as RunStep[];
    const sync = syncs.find((candidate) => editedFile.startsWith(`${candidate.local}/`));
    assert.ok(sync, `a sync step covers ${editedFile}`);
    const source = readFileSync(join(root, editedFile), 'utf8');
    const imageEnv = devImageEnv();
    assert.ok(source.includes(before), `${editedFile} shows "${before}"`);

    const scratch = mkdtempSync(join(tmpdir(), 'storefront-live-update-'));
    const container = join(scratch, 'container');
    const app = join(container, 'app');
    try {
      // What the dev image holds (the Dockerfile's dev stage): the storefront's web sources and
      // package manifest, the packages that build them (here this checkout's), and the emptyDirs.
      mkdirSync(join(app, 'services/storefront'), { recursive: true });
      cpSync(join(root, 'services/storefront/web'), join(app, 'services/storefront/web'), {
        recursive: true,
        filter: (path) => !/[/\\](test|node_modules)$/.test(path),
      });
      cpSync(join(root, 'services/storefront/package.json'), join(app, 'services/storefront/package.json'));
      symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'));
      for (const { remote } of syncs) mkdirSync(join(container, dirname(remote)), { recursive: true });
      const dist = join(app, 'services/storefront/dist');
      mkdirSync(dist);

      // The image's build, by the same step: the server starts on it.
      const build = runs.find((run) => run.trigger.length > 0);
      assert.ok(build, 'a run() step with triggers builds the pages');
      runSteps([build], editedFile, container, imageEnv);
      const server = await createStorefront(loadConfig(storefrontConfig, {}), testLogger('storefront'), dist);
      const servedScript = async (): Promise<{ path: string; body: string }> => {
        const page = await server.inject({ url: '/orders/0b7c1d2e' });
        assert.equal(page.statusCode, 200);
        const path = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
        assert.ok(path, `the page names its script: ${page.body}`);
        const script = await server.inject({ url: path });
        assert.equal(script.statusCode, 200, path);
        return { path, body: script.body };
      };
      try {
        const first = await servedScript();
        assert.ok(first.body.includes(before) && !first.body.includes(after));

        // An edit of the server's sources copies them in (node --watch restarts it) but builds nothing.
        const serverSource = 'services/storefront/src/app.ts';
        assert.deepEqual(runSteps(runs, serverSource, container, imageEnv), runs.filter((run) => run.trigger.length === 0).map((run) => run.cmd));

        syncAsTilt({ container, archive: join(scratch, 'archive'), sync, file: editedFile, content: source.replace(before, after) });
        const ran = runSteps(runs, editedFile, container, imageEnv);
        assert.deepEqual(ran, runs.map((run) => run.cmd), 'the copy, then the build');
        assert.equal(readFileSync(join(app, editedFile), 'utf8'), source.replace(before, after), 'copied into place');

        const second = await servedScript();
        assert.notEqual(second.path, first.path, 'a new hashed asset');
        assert.ok(second.body.includes(after), 'the new build serves the edit');
        // The pages the image was built with: React's production bundle, not its development one.
        assert.ok(!second.body.includes('jsxDEV'), 'a production build');
        assert.equal((await server.inject({ url: first.path })).statusCode, 404, 'the old asset is gone: the page names only the new one');
      } finally {
        await server.close();
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
