/** The Dockerfile as tests read it: its instructions by stage, the runtime stage's environment and exec forms. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export interface Instruction { keyword: string; args: string; stage: number }

/** Dockerfile → instructions (continuation lines joined, comments dropped), numbered by stage. */
export function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let stage = -1;
  return joined.map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    if (keyword!.toUpperCase() === 'FROM') stage++;
    return { keyword: keyword!.toUpperCase(), args: rest.join(' '), stage };
  });
}

export const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
export const lastStage = Math.max(...dockerfile.map((i) => i.stage));
export const runtime = dockerfile.filter((i) => i.stage === lastStage);
/** ENV of the runtime stage: what the gateway process sees in the image. */
export const imageEnv = Object.fromEntries(runtime.filter((i) => i.keyword === 'ENV').map((i) => i.args.split('=') as [string, string]));
/** The JSON exec form of ENTRYPOINT, or of HEALTHCHECK's CMD (after its options). */
export const execForm = (keyword: string) => JSON.parse(runtime.find((i) => i.keyword === keyword)!.args.replace(/^(--\S+\s+)*CMD\s+/, '')) as string[];
