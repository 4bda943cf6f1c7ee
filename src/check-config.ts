/**
 * `--check-config FILE` (and `--help`): validates the file with the flags and environment given,
 * reads the files it references, and exits, without starting the gateway, contacting a vCenter
 * or loading the simulator. Exit 0 with a one-line summary on stdout; 2 with every problem on
 * stderr, one per line.
 */
import { ConfigError, USAGE, loadConfig } from './config.ts';
import type { GatewayConfig } from './config.ts';

interface Output {
  write(text: string): unknown;
}

export function summarize(config: GatewayConfig): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const parts = [
    config.vcenters.length > 0
      ? `${count(config.vcenters.length, 'vCenter')} (${config.vcenters.map((v) => v.name).join(', ')})`
      : `no vCenter: the embedded simulator (${count(config.simulator.vcenters, 'vCenter')})`,
    `auth ${config.auth.mode}`,
    `listening on ${config.host}:${config.port}`,
    config.metrics ? `metrics on ${config.metrics.host}:${config.metrics.port}` : 'metrics on the GraphQL port',
  ];
  if (config.trustedDocuments) parts.push(`trusted documents only (${count(config.trustedDocuments.documents.size, 'document')}, ${config.trustedDocuments.enforce})`);
  if (!config.graphiql) parts.push('GraphiQL off');
  return `config OK${config.configFile ? ` (${config.configFile})` : ''}: ${parts.join(', ')}`;
}

/** Runs the check and returns the exit code. */
export function checkConfig(argv: string[], env: NodeJS.ProcessEnv, stdout: Output, stderr: Output): number {
  if (argv.includes('--help')) {
    stdout.write(USAGE);
    return 0;
  }
  try {
    const config = loadConfig(argv, env);
    stdout.write(`${summarize(config)}\n`);
    if (config.exposureWarning) stderr.write(`warning: ${config.exposureWarning}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderr.write(`config invalid (${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}):\n${error.problems.map((p) => `  ${p}\n`).join('')}`);
    return 2;
  }
}
