/**
 * `npm start` entry. graphql-js and graphql-yoga choose their production behaviour (no
 * development-only checks, no error internals in responses) when they are first loaded,
 * so the environment is settled before anything imports them.
 */
process.env['NODE_ENV'] ??= 'production';
const args = process.argv.slice(2);
if (args.some((a) => a === '--help' || a === '--check-config' || a.startsWith('--check-config='))) {
  // Validation only: the gateway (and the simulator) are never loaded.
  const { checkConfig } = await import('./check-config.ts');
  process.exitCode = checkConfig(args, process.env, process.stdout, process.stderr);
} else {
  await import('./start.ts');
}
