import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../common/config/index.ts';
import { createLogger } from '../../common/log.ts';
import { bannerText } from './banner.ts';
import { createUpFleet } from './fleet-runner.ts';
import { settingsFromFlags, type UpFlags } from './flags.ts';
import { createLogRelay } from './log-relay.ts';
import { planFleet, type FleetPlan } from './plan.ts';
import { probePort } from './ports.ts';

/** How long to wait, once everything runs, for the orchestrator to say it can serve, ms. */
const READY_WAIT_MS = 20_000;

/**
 * `tandem up`: validates everything first (flags, config, profiles, the orchestrator's port),
 * then starts the fleet, prints where everything is, and runs until SIGINT or SIGTERM (a second
 * one kills at once). Any failure to start throws one TandemError after stopping what started.
 * Nothing is left behind: every process is in its own group and stopped by group, and a last
 * exit handler SIGKILLs whatever is still running if `tandem up` itself dies.
 */
export async function runUp(flags: UpFlags, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  const settings = settingsFromFlags(flags);
  if (!settings.ok) throw settings.error;
  const loaded = loadConfig({ file: flags.config, env: process.env, overrides: settings.value.overrides });
  if (!loaded.ok) throw loaded.error;
  const planned = planFleet(loaded.value, settings.value.force);
  if (!planned.ok) throw planned.error;
  const plan = planned.value;
  const o = plan.config.orchestrator;
  const port = await probePort(o.host, o.port);
  const plannerPort = plan.planner ? await probePort('127.0.0.1', 0) : undefined;

  const human = out.isTTY === true && plan.config.log.format !== 'json';
  const relay = createLogRelay({ out, human, color: human && process.env.NO_COLOR === undefined });
  const logger = createLogger({
    name: 'up',
    level: plan.config.log.level,
    format: 'json',
    destination: relay.ownStream,
  });
  const dir = mkdtempSync(join(tmpdir(), 'tandem-up-'));
  const fleet = createUpFleet({ plan, port, plannerPort, dir, logger, onLine: relay.line });

  const onExit = () => fleet.killNow();
  process.on('exit', onExit);
  let signals = 0;
  let resolveSignal!: () => void;
  const signalled = new Promise<void>((resolve) => (resolveSignal = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn(`${signal} again: killing every process now`);
      fleet.killNow();
      return;
    }
    logger.info(
      `${signal}: stopping every process (${signal === 'SIGINT' ? 'Ctrl-C' : 'signal'} again to kill them at once)`,
    );
    resolveSignal();
    void fleet.stop();
  };
  const signalNames: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signalNames) process.on(signal, onSignal);

  try {
    logger.info(
      { workers: plan.workers.map((w) => `${w.name} (${w.role}, ${w.gpu}, ${w.engine})`), port, dir },
      `starting ${describeFleet(plan)}`,
    );
    try {
      await fleet.start();
    } catch (error) {
      if (fleet.stopping && signals > 0) return;
      throw error;
    }
    const url = `http://${wildcard(o.host) ? '127.0.0.1' : o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
    const notReady = await Promise.race([waitUntilReady(url), signalled.then(() => null)]);
    if (signals > 0) return;
    out.write(
      bannerText({
        url,
        model: plan.servedModel,
        fleet: describeFleet(plan),
        processes: fleet.processes(),
        plannerUrl: plannerPort === undefined ? undefined : `http://127.0.0.1:${plannerPort}`,
        apiKey: o.api_key !== undefined,
        notReady,
        hasBothWorkers: plan.workers.some((w) => w.role === 'both'),
      }),
    );
    await signalled;
  } finally {
    await fleet.stop();
    for (const signal of signalNames) process.off(signal, onSignal);
    process.off('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
    if (signals > 0) logger.info('stopped: every process has exited');
  }
}

/** "2 prefill + 2 decode simulated workers (qwen3-8b on h100-sxm, time scale 1)". */
export function describeFleet(plan: FleetPlan): string {
  const count = (role: string) => plan.workers.filter((w) => w.role === role).length;
  const parts = [
    ...(count('prefill') ? [`${count('prefill')} prefill`] : []),
    ...(count('decode') ? [`${count('decode')} decode`] : []),
    ...(count('both') ? [`${count('both')} aggregated (role both)`] : []),
  ];
  const engines = [...new Set(plan.workers.map((w) => (w.engine === 'sim' ? 'simulated' : 'reference-engine')))].join(
    ' and ',
  );
  const profiles = [...new Set(plan.workers.map((w) => `${w.model} on ${w.gpu}${w.tp > 1 ? ` x${w.tp}` : ''}`))].join(
    ', ',
  );
  const noun = plan.workers.length === 1 ? 'worker' : 'workers';
  return `${parts.join(' + ')} ${engines} ${noun} (${profiles}, time scale ${plan.config.worker.time_scale}), disaggregation ${plan.config.disaggregation.mode}${plan.planner ? ', planner in dry run' : ''}`;
}

/** Polls /ready; null once it answers 200, else the last reason it gave (after READY_WAIT_MS). */
async function waitUntilReady(url: string): Promise<string | null> {
  const until = Date.now() + READY_WAIT_MS;
  let detail = 'no answer from /ready';
  for (;;) {
    try {
      const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2000) });
      const body = (await response.json()) as { detail?: string };
      if (response.status === 200) return null;
      detail = body.detail ?? `status ${response.status}`;
    } catch (error) {
      detail = (error as Error).message;
    }
    if (Date.now() > until) return detail;
    await sleep(250);
  }
}

const wildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '[::]';
