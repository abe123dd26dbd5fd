/// <reference types="vitest/config" />
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/** The JavaScript a first visit downloads must stay small; the build prints it, a test holds it to the budget. */
export const firstLoadBudgetKiB = 150;

function firstLoadSize(): Plugin {
  let outDir = '';
  return {
    name: 'first-load-size',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const html = readFileSync(join(outDir, 'index.html'), 'utf8');
      const scripts = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((match) => match[1]!);
      const gzipped = scripts.reduce((sum, file) => sum + gzipSync(readFileSync(join(outDir, file))).length, 0);
      const all = readdirSync(join(outDir, 'assets')).filter((file) => file.endsWith('.js')).length;
      console.log(`first-load JavaScript: ${(gzipped / 1024).toFixed(1)} KiB gzipped in ${scripts.length} of ${all} files (budget ${firstLoadBudgetKiB} KiB)`);
    },
  };
}

const gateway = process.env.GATEWAY_URL ?? 'http://localhost:9000';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), firstLoadSize()],
  build: { outDir: join(import.meta.dirname, '..', 'dist'), emptyOutDir: true, sourcemap: false },
  // `npm run dev`: the page reloads as it changes; the API stays the gateway's, on the same origin as far as the browser knows.
  server: { port: 5173, proxy: { '/api': gateway, '/docs': gateway, '/health': gateway } },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.tsx'],
    setupFiles: ['test/setup.ts'],
    css: false,
  },
});
