// Vite for the dashboard: `vite build web` writes web/dist (served by the api role at `/`);
// `vite web` serves the page with hot reload and forwards the API and the socket to a running
// `orders-live start` (PORT 3000 unless ORDERS_LIVE_URL says otherwise).

import { defineConfig } from 'vite';

const target = process.env.ORDERS_LIVE_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  // Relative asset URLs: the same build works at `/` and behind a proxy under a sub-path.
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // One small app: a single chunk loads in one request, nothing to preload.
    sourcemap: true,
    reportCompressedSize: false,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: {
      '/orders': target,
      '/events': target,
      '/access': target,
      '/socket.io': { target, ws: true },
    },
  },
});
