// `npm test`'s first step: what the suite needs beyond npm packages, checked before anything
// starts, each missing piece said in one line with how to get it. Today that is Chromium, for the
// browser tests (test/e2e); PostgreSQL and RabbitMQ are checked by the suite's global setup.

import { existsSync } from 'node:fs';
import { CHROMIUM_PATH } from '../test/e2e/browser.js';

if (!existsSync(CHROMIUM_PATH)) {
  console.error(
    `npm test: Chromium not found at ${CHROMIUM_PATH} (the browser tests need it): install Debian's package ` +
      '(sudo apt-get install -y chromium) or set CHROMIUM_PATH; `npm run test:unit` needs nothing',
  );
  process.exit(1);
}
