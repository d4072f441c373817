// `npm test`'s first step: what the suite needs beyond npm packages, checked before anything
// starts, each missing piece said in one line with how to get it. Today that is Chromium, for the
// browser tests (test/e2e); PostgreSQL and RabbitMQ are checked by the suite's global setup.

import { chromiumProblem } from '../test/e2e/browser.js';

const problem = chromiumProblem();
if (problem) {
  console.error(`npm test: ${problem}; \`npm run test:unit\` needs nothing`);
  process.exit(1);
}
