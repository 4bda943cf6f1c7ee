/**
 * `npm start` entry. graphql-js and graphql-yoga choose their production behaviour (no
 * development-only checks, no error internals in responses) when they are first loaded,
 * so the environment is settled before anything imports them.
 */
process.env['NODE_ENV'] ??= 'production';
await import('./start.ts');
