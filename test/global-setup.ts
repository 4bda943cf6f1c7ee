// Tests that run the gateway as `npm start` and the container do (test/shutdown, test/replicas)
// start dist/. Build it once before the suite, and only when a source is newer than the build,
// so those tests never run yesterday's code and never spend their own timeout compiling.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BUILT = 'dist/src/main.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtMtime(): number {
  try {
    return statSync(BUILT).mtimeMs;
  } catch {
    return 0;
  }
}

export default function setup(): void {
  const sources = Math.max(newestMtime('src'), newestMtime('schema'), statSync('tsconfig.build.json').mtimeMs);
  if (builtMtime() < sources) execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
