/**
 * Writes a file only when its content would change. Tilt watches k8s/: a rewrite with the same
 * bytes still changes its mtime, which reloads the Tiltfile and reruns the secrets script on
 * every `tilt up`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** True when the file was written, false when it already held exactly this content. */
export function writeIfChanged(path: string, content: string): boolean {
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (current === content) return false;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return true;
}
