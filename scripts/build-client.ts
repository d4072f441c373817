// `npm run build:client`: orders-live/client bundled for browsers with socket.io-client, one ES
// module at web/dist/client/orders-live-client.js (served by the api role next to the
// dashboard). Prints its size and fails when it is over the budget: 20 KB gzipped.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { projectPath } from '../src/paths.js';

const BUDGET_BYTES = 20 * 1024;
const OUT_DIR = projectPath('web', 'dist', 'client');
const FILE = 'orders-live-client.js';

await build({
  configFile: false,
  logLevel: 'warn',
  build: {
    lib: { entry: projectPath('src', 'client', 'index.ts'), formats: ['es'], fileName: () => FILE },
    outDir: OUT_DIR,
    emptyOutDir: true,
    minify: true,
    sourcemap: true,
    reportCompressedSize: false,
    // Library mode keeps whitespace in ES output; this bundle is for a page to load as is.
    rolldownOptions: { output: { minify: true } },
  },
});

const code = readFileSync(`${OUT_DIR}/${FILE}`);
const gzipped = gzipSync(code, { level: 9 }).length;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
const verdict = gzipped <= BUDGET_BYTES ? 'within' : 'OVER';
console.log(
  `orders-live/client for browsers (with socket.io-client): ${kb(code.length)}, ${kb(gzipped)} gzipped — ${verdict} the ${kb(BUDGET_BYTES)} budget`,
);
if (gzipped > BUDGET_BYTES) process.exit(1);
