// This package as another project gets it: the checkout packed by `npm pack` (dist/ built first,
// as npm's `prepare` does when it packs or installs from the repository), installed into a new
// project in a temporary directory. What the other project imports resolves to the packed files.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectPath } from '../../src/paths.js';
import { ensureWebBuilt } from './web-build.js';

const run = promisify(execFile);

export interface InstalledPackage {
  /** The other project's directory: node_modules/orders-live is the packed package. */
  dir: string;
  /** The files the tarball holds, as `npm pack` listed them. */
  files: string[];
  remove(): void;
}

export async function installPackedPackage(): Promise<InstalledPackage> {
  await ensureWebBuilt();
  // dist/ only: `npm run build` would also rebuild web/dist under the other e2e files' feet.
  await run(projectPath('node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: projectPath(),
  });
  const dir = mkdtempSync(join(tmpdir(), 'orders-live-app-'));
  try {
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      cwd: projectPath(),
      maxBuffer: 16 * 1024 * 1024,
    });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'an-app', private: true, type: 'module' }),
    );
    await run(
      'npm',
      [
        'install',
        join(dir, packed!.filename),
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
      ],
      { cwd: dir },
    );
    return {
      dir,
      files: packed!.files.map((f) => f.path),
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
