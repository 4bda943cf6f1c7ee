/**
 * The gateway process: in front of the configured vCenters or, with none configured,
 * in front of its own embedded vCenter simulator.
 */
import { ConfigError, SHUTDOWN_GRACE_MS, loadConfig } from './config.ts';
import type { GatewayConfig } from './config.ts';
import { createGateway } from './gateway.ts';
import { createLogger } from './log.ts';
import type { Logger } from './log.ts';
import type { Simulator } from './simulator/index.ts';
import { tracingFromEnvironment } from './tracing.ts';
import type { VCenterEndpoint } from './vsphere/index.ts';

async function upstreamsFor(config: GatewayConfig, logger: Logger): Promise<{ vcenters: VCenterEndpoint[]; simulator?: Simulator }> {
  if (config.vcenters.length > 0) return { vcenters: config.vcenters };
  // Loaded only here: a gateway in front of real vCenters never loads the simulator's code.
  const { DEPOT_URLS, startSimulator } = await import('./simulator/index.ts');
  // The simulator's own depots are the ones its hosts can scan against: allowed by default.
  config.depots = { ...config.depots, allow: [...DEPOT_URLS, ...(config.depots.allow ?? [])] };
  const s = config.simulator;
  const simulator = await startSimulator({
    seed: s.seed,
    size: {
      vcenters: s.vcenters,
      datacentersPerVcenter: s.datacentersPerVcenter,
      clustersPerDatacenter: s.clustersPerDatacenter,
      hostsPerCluster: s.hostsPerCluster,
    },
    latencyMs: s.latencyMs,
    basePort: s.basePort,
  });
  logger.info('no vCenter configured: started the embedded vCenter simulator', {
    vcenters: simulator.vcenters.map((v) => ({ name: v.name, url: v.url })),
    hostsPerCluster: s.hostsPerCluster,
  });
  return {
    simulator,
    vcenters: simulator.vcenters.map((v) => ({
      name: v.name,
      url: v.url,
      username: simulator.username,
      password: simulator.password,
      caPem: simulator.caPem,
    })),
  };
}

async function main(): Promise<void> {
  const logger = createLogger();
  let config: GatewayConfig;
  try {
    config = loadConfig(process.argv.slice(2));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error:\n${error.problems.map((p) => `  ${p}\n`).join('')}`);
      process.exit(2);
    }
    throw error;
  }

  if (config.exposureWarning) logger.warn(config.exposureWarning);
  const { vcenters, simulator } = await upstreamsFor(config, logger);
  const tracing = await tracingFromEnvironment(process.env, logger);
  const gateway = createGateway({
    tracing,
    vcenters,
    logger,
    auth: config.auth,
    graphiql: config.graphiql,
    depots: config.depots,
    inventoryMirror: config.mirror,
    ...(config.metrics ? { metrics: config.metrics } : {}),
    ...(config.trustedDocuments ? { trustedDocuments: config.trustedDocuments } : {}),
  });
  if (config.trustedDocuments) {
    logger.info('trusted documents only', { documents: config.trustedDocuments.documents.size, enforce: config.trustedDocuments.enforce });
  }
  const url = await gateway.listen(config.port, config.host);
  const shown = url.replace('//127.0.0.1:', '//localhost:');
  const metricsAddress = gateway.metricsServer?.address();
  const metricsAt = metricsAddress && typeof metricsAddress === 'object' ? { metrics: `http://${metricsAddress.family === 'IPv6' ? `[${metricsAddress.address}]` : metricsAddress.address}:${metricsAddress.port}/metrics` } : {};
  logger.info('gateway ready', { url: shown, vcenters: vcenters.map((v) => v.name), ...metricsAt });
  process.stdout.write(`\nvSphere GraphQL gateway: ${config.graphiql ? 'GraphiQL' : 'GraphQL'} at ${shown}\n\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    await gateway.close(SHUTDOWN_GRACE_MS);
    await simulator?.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
