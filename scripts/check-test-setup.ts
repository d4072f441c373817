// `npm test`'s first step: what the suite needs beyond npm packages, checked before anything
// starts, each missing piece said in one line with how to get it. Today that is Chromium, for the
// browser tests (test/e2e), HAProxy, for the broker-cluster fault matrix (test/chaos), and
// Debian's postgresql-common with root, for the tests' own PostgreSQL clusters; the shared
// PostgreSQL and RabbitMQ are checked by the suite's global setup.

import { haproxyProblem } from '../test/chaos/haproxy.js';
import { postgresqlCommonProblem } from '../test/chaos/postgresql-common.js';
import { chromiumProblem } from '../test/e2e/browser.js';

const problems = [chromiumProblem(), haproxyProblem(), postgresqlCommonProblem()].filter((p) => p !== null);
for (const problem of problems) console.error(`npm test: ${problem}; \`npm run test:unit\` needs nothing`);
if (problems.length > 0) process.exit(1);
