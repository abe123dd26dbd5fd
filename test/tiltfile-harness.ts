/**
 * The Tiltfile, evaluated without Tilt: Starlark is Python-compatible in everything the
 * Tiltfile uses, so python3 runs it with recording stand-ins for Tilt's built-ins, against the
 * real k8s/. Shared by the tests of the cluster files and of live update.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type Obj = Record<string, any>;

export function manifestFiles(): string[] {
  return readdirSync(join(root, 'k8s'))
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .map((f) => join(root, 'k8s', f));
}

export interface TiltCall {
  fn: string;
  args: any[];
  kwargs: Obj;
}
export interface TiltRun {
  failed?: string;
  calls: TiltCall[];
}

const harness = String.raw`
import json, os, sys
context, subcommand, yaml_json, tiltfile = sys.argv[1:5]
tilt_args = json.loads(sys.argv[5])
streams = json.load(open(yaml_json))
calls = []
class TiltfileFailed(Exception):
    pass
def recorder(name, result=None):
    def fn(*args, **kwargs):
        calls.append({'fn': name, 'args': list(args), 'kwargs': kwargs})
        return result(*args, **kwargs) if result else None
    return fn
def fail(msg):
    raise TiltfileFailed(msg)
def listdir(directory, recursive=False):
    base = os.path.abspath(directory)
    return [os.path.join(base, f) for f in sorted(os.listdir(base)) if os.path.isfile(os.path.join(base, f))]
class Config:
    tilt_subcommand = subcommand
    def __init__(self):
        self.flags = []
    def define_bool(self, name, args=False, usage=''):
        self.flags.append(name)
    def parse(self):
        # What Tilt does with the arguments after "--": each defined flag given as --<name> is set.
        unknown = [a for a in tilt_args if a[2:] not in self.flags]
        if unknown:
            raise TiltfileFailed('unknown arguments %s' % unknown)
        return {a[2:]: True for a in tilt_args}
env = {
    'fail': fail, 'listdir': listdir, 'config': Config(),
    'k8s_context': lambda: context,
    'read_yaml_stream': lambda path, default=None: streams[os.path.abspath(path)],
    'read_json': lambda path, default=None: json.load(open(path)),
    'port_forward': lambda local_port, container_port=None, name=None, link_path=None, host=None:
        {'local_port': local_port, 'container_port': container_port, 'name': name},
    'link': lambda url, name=None: {'url': url, 'name': name},
    'sync': lambda local_path, remote_path: {'step': 'sync', 'local': local_path, 'remote': remote_path},
    'run': lambda cmd, trigger=[], echo_off=False: {'step': 'run', 'cmd': cmd, 'trigger': trigger},
    'fall_back_on': lambda files: {'step': 'fall_back_on', 'files': files if isinstance(files, list) else [files]},
    'helm': recorder('helm', lambda *args, **kwargs: {'helm': args[0]}),
}
for name in ['version_settings', 'allow_k8s_contexts', 'local', 'local_resource', 'watch_file', 'k8s_yaml',
             'docker_build', 'k8s_resource', 'update_settings', 'warn', 'k8s_kind']:
    env[name] = recorder(name)
result = {'calls': calls}
try:
    exec(compile(open(tiltfile).read(), 'Tiltfile', 'exec'), env)
except TiltfileFailed as e:
    result['failed'] = str(e)
print(json.dumps(result))
`;

export const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined;

/** args: what follows `--` on the command line (`tilt up -- --operator`). */
export function evaluateTiltfile(context: string, subcommand = 'up', args: string[] = []): TiltRun {
  const dir = mkdtempSync(join(tmpdir(), 'tiltfile-'));
  try {
    const streams: Record<string, Obj[]> = {};
    for (const file of manifestFiles()) {
      streams[file] = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJSON() as Obj);
    }
    writeFileSync(join(dir, 'streams.json'), JSON.stringify(streams));
    writeFileSync(join(dir, 'harness.py'), harness);
    const run = spawnSync(python!, [join(dir, 'harness.py'), context, subcommand, join(dir, 'streams.json'), join(root, 'Tiltfile'), JSON.stringify(args)], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout) as TiltRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SyncStep {
  local: string;
  remote: string;
}
export interface RunStep {
  cmd: string;
  trigger: string[];
}

export const gnuTar = /GNU tar/.test(spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout ?? '');

/** Where a sync step puts a local file in the container, relative to its root. */
export function containerPathOf(sync: SyncStep, file: string): string {
  return join(sync.remote, relative(sync.local, file)).replace(/^\//, '');
}

/**
 * Copies an edited file into the container as Tilt does: a tar of it under its container path,
 * owner cleared, extracted at the container's root, which replaces the file (a new inode).
 */
export function syncAsTilt(options: { container: string; archive: string; sync: SyncStep; file: string; content: string | Buffer }): void {
  const entry = containerPathOf(options.sync, options.file);
  mkdirSync(dirname(join(options.archive, entry)), { recursive: true });
  writeFileSync(join(options.archive, entry), options.content);
  const tar = spawnSync('tar', ['-C', options.archive, '--owner=0', '--group=0', '--numeric-owner', '-c', '-f', '-', entry]);
  assert.equal(tar.status, 0, tar.stderr?.toString());
  const extract = spawnSync('tar', ['-C', options.container, '-x', '-f', '-'], { input: tar.stdout });
  assert.equal(extract.status, 0, extract.stderr?.toString());
}

/** A command of the Tiltfile, its container paths (every absolute path) moved under `container`. */
export function inContainer(command: string, container: string): string {
  const mapped = command.replace(/(^|[\s'"=])(\/(?!\/))/g, (_, before: string, slash: string) => `${before}${container}${slash}`);
  for (const path of mapped.matchAll(/(?:^|[\s'"=])(\/\S*)/g)) assert.ok(path[1]!.startsWith(container), `unmapped path ${path[1]} in ${mapped}`);
  return mapped;
}

/**
 * Runs the run() steps an edit of `changed` triggers, as Tilt does after its syncs: a step with
 * triggers only when the file is one of them or under one, in order, with `sh -c` (with this
 * process's node first on the PATH, as the image's, and `env`, the image's). Returns the commands run.
 */
export function runSteps(runs: readonly RunStep[], changed: string, container: string, env: Record<string, string> = {}): string[] {
  const ran: string[] = [];
  for (const run of runs) {
    if (run.trigger.length > 0 && !run.trigger.some((trigger) => changed === trigger || changed.startsWith(`${trigger}/`))) continue;
    const sh = spawnSync('sh', ['-c', inContainer(run.cmd, container)], {
      encoding: 'utf8',
      env: { ...process.env, ...env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` },
    });
    assert.equal(sh.status, 0, `run(${run.cmd}): ${sh.stdout}${sh.stderr}`);
    ran.push(run.cmd);
  }
  return ran;
}
