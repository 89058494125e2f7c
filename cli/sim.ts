/** `facility sim`, and the simulator that `facility start` runs beside the gateway. */
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Site } from '../core/site/model.js';
import { runSim, type SimHandle } from '../firmware-sim/index.js';
import { readSecretsFile } from '../gateway/auth/secrets.js';
import { loadSiteFile } from './init.js';

export type { SimHandle };

export async function startSimulator(opts: {
  site: Site;
  secretsPath: string;
  siteDir: string;
  brokerUrl: string;
  speed: number;
  seed: number;
  members?: number;
  intensity?: number;
  logger: Logger;
}): Promise<SimHandle> {
  const secrets = await readSecretsFile(opts.secretsPath);
  if (secrets.site !== opts.site.id) {
    throw new Error(`${opts.secretsPath} holds secrets for site "${secrets.site}", but the site file is "${opts.site.id}"; pass --secrets for this site or --no-sim`);
  }
  return runSim({
    site: opts.site,
    secrets: secrets.devices,
    ...(secrets.logins && { logins: secrets.logins }),
    siteDir: opts.siteDir,
    brokerUrl: opts.brokerUrl,
    speed: opts.speed,
    seed: opts.seed,
    ...(opts.members !== undefined && { members: opts.members }),
    ...(opts.intensity !== undefined && { intensity: opts.intensity }),
    logger: opts.logger,
  });
}

export async function runSimCommand(opts: {
  sitePath: string;
  secretsPath: string;
  brokerUrl: string;
  speed: number;
  seed: number;
  members?: number;
  intensity?: number;
  durationS?: number;
  logger: Logger;
}): Promise<void> {
  const site = await loadSiteFile(opts.sitePath);
  const { sitePath, durationS: _d, ...rest } = opts;
  const sim = await startSimulator({ ...rest, site, siteDir: dirname(sitePath) });
  const report = () => {
    const s = sim.stats();
    opts.logger.info({ stats: s }, 'simulator progress');
  };
  const timer = setInterval(report, 10_000);
  const stop = async () => {
    clearInterval(timer);
    report();
    await sim.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
  if (opts.durationS !== undefined) {
    await Promise.race([sim.done, new Promise((r) => setTimeout(r, opts.durationS! * 1000))]);
    await stop();
  } else {
    await sim.done;
    await stop();
  }
}
