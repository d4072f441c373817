// npm's `prepare` hook: builds dist/ and web/dist/, so that this package installed from its
// repository (npm runs `prepare` for a git dependency, then packs it) or packed with `npm pack`
// carries `orders-live/client` and the `orders-live` command built. Plain JavaScript: it runs
// before anything else of the project can. It builds nothing when the sources or the dev
// dependencies are absent — a Docker layer that copies package.json alone, `npm ci --omit=dev` —
// since whoever installs there builds afterwards or runs a build made elsewhere.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const has = (path) => existsSync(new URL(path, root));

if (!has('src/main.ts') || !has('tsconfig.build.json')) {
  console.log('orders-live prepare: no sources here, nothing to build');
} else if (!has('node_modules/typescript') || !has('node_modules/vite')) {
  console.log('orders-live prepare: dev dependencies not installed, nothing to build');
} else {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
}
