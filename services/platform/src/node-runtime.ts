/**
 * How every service's node process is started: by the local launcher (scripts/local-shop.ts)
 * and by the images (the Dockerfile's CMD, which test/cluster-files.test.ts holds to this list).
 *
 * --max-semi-space-size=4: V8 sizes the young generation for throughput, growing each of its
 * semi-spaces to 16 MiB on a 64-bit machine, and a service keeps that committed while idle. At
 * 4 MiB an idle replica is ~20 MiB smaller (bench:memory); a scavenge then runs more often, and
 * bench:checkout's CPU per order shows what that costs (docs/benchmarks.md).
 */
export const serviceNodeFlags: readonly string[] = ['--max-semi-space-size=4'];

/**
 * Node strips the types of each .ts file as it loads it, and the stripper (a WebAssembly build
 * of swc) costs every process ~18 MiB. With NODE_COMPILE_CACHE pointing at this folder, a file
 * stripped once is read back already stripped (and compiled), and a process whose files are all
 * cached never loads the stripper. The images fill it at build time; locally the first start
 * fills it.
 */
export const compileCacheVariable = 'NODE_COMPILE_CACHE';
