import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultBuildDirectory } from './app.ts';

const serviceRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const webRoot = join(serviceRoot, 'web');
/** Written after a build: the hash of the sources it was built from. */
const stampFile = join(defaultBuildDirectory, '.source-hash');

function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (name === 'test' || name === 'node_modules') return [];
    return statSync(path).isDirectory() ? sourceFiles(path) : [path];
  });
}

/** By content, not by modification time: a checkout or a copy changes times but not what is built. */
export function sourceHash(): string {
  const hash = createHash('sha256');
  for (const file of [...sourceFiles(webRoot), join(serviceRoot, 'package.json')].sort()) {
    hash.update(relative(serviceRoot, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

export function buildIsCurrent(): boolean {
  return existsSync(join(defaultBuildDirectory, 'index.html')) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === sourceHash();
}

/** Held while a build runs: test files run side by side, and two builds would empty each other's output. */
const lockDirectory = join(serviceRoot, '.build-lock');
const staleLockMs = 5 * 60_000;

async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(lockDirectory);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A build that died keeps its lock; after a while it is taken over.
      const held = statSync(lockDirectory, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > staleLockMs) rmSync(lockDirectory, { recursive: true, force: true });
      await sleep(200);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lockDirectory, { recursive: true, force: true });
  }
}

/** Builds the storefront when there is no build or it is older than its sources; says whether it built. */
export async function ensureStorefrontBuild(options: { quiet?: boolean } = {}): Promise<boolean> {
  if (buildIsCurrent()) return false;
  return withBuildLock(async () => {
    // Another process may have built it while this one waited.
    if (buildIsCurrent()) return false;
    const hash = sourceHash();
    const vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [vite, 'build', '--config', join(webRoot, 'vite.config.ts')], {
        cwd: serviceRoot,
        stdio: options.quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
      });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the storefront build failed (exit code ${code})`))));
    });
    writeFileSync(stampFile, hash);
    return true;
  });
}
