// The configuration table and command list (docs/operations.md) stay true to the program.

import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { COMMAND_HELP } from '../../src/cli/commands.js';
import { DEFAULTS } from '../../src/config.js';
import { projectPath } from '../../src/paths.js';

const readme = readFileSync(projectPath('README.md'), 'utf8');
const operations = readFileSync(projectPath('docs/operations.md'), 'utf8');
const section = (title: string) => {
  const start = operations.indexOf(`\n## ${title}\n`);
  expect(start, `docs/operations.md section "${title}"`).toBeGreaterThan(-1);
  const end = operations.indexOf('\n## ', start + 1);
  return operations.slice(start, end === -1 ? undefined : end);
};

it('documents every configuration variable in the Configuration table', () => {
  const table = section('Configuration')
    .split('\n')
    .filter((line) => line.startsWith('|'));
  for (const name of [...Object.keys(DEFAULTS), 'DB_PASSWORD']) {
    expect(
      table.some((row) => row.includes(`\`${name}\``)),
      `${name} in the Configuration table`,
    ).toBe(true);
  }
});

it('documents every CLI command', () => {
  const commands = section('Commands');
  for (const command of Object.keys(COMMAND_HELP)) {
    expect(commands, `orders-live ${command}`).toMatch(
      new RegExp(`(cli -- |npm )${command}\\b|npm run ${command}\\b`),
    );
  }
});

it("runs the CLI through npm silently, so its output is the program's alone", () => {
  const loud = `${readme}\n${operations}`.split('\n').filter((line) => /npm run cli\b/.test(line));
  expect(loud, 'lines with "npm run cli" (use "npm run -s cli")').toEqual([]);
});
