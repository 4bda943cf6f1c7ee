/**
 * `npm run build` only when a source is newer than the build. The benchmark's children and the
 * tests that run the gateway as `npm start` does (test/shutdown, test/replicas, test/container)
 * start dist/; the build script deletes dist/ before compiling, so an unconditional build here
 * pulled dist/ from under a test suite running beside `npm run bench`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What the build emits that its users start: the gateway's entry and the benchmark's child. */
const OUTPUTS = ['dist/src/main.js', 'dist/bench/child.js'];

/** Newest modification time under `dir`, counting only files `keep` accepts. */
function newestMtime(dir: string, keep: (name: string) => boolean = () => true): number {
  let newest = 0;
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, keep));
    else if (keep(entry.name)) newest = Math.max(newest, statSync(join(ROOT, path)).mtimeMs);
  }
  return newest;
}

function oldestOutputMtime(): number {
  try {
    return Math.min(...OUTPUTS.map((f) => statSync(join(ROOT, f)).mtimeMs));
  } catch {
    return 0;
  }
}

export function buildIfStale(): void {
  const sources = Math.max(
    newestMtime('src'),
    newestMtime('schema'),
    // bench/'s TypeScript only: its results/ folder changes with every run.
    newestMtime('bench', (name) => name.endsWith('.ts')),
    statSync(join(ROOT, 'tsconfig.json')).mtimeMs,
    statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs,
  );
  if (oldestOutputMtime() < sources) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
}
