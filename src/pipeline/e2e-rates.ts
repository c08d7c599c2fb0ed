// The plan's rates from a run on the runner itself (`e2e-rates`: a RunResult of an earlier vllm-serve e2e, a
// pilot): each finished cell's baseline output tok/s, the server starts and swaps it timed, and its run-to-run
// noise. Pure but the read.
import { readFile } from 'node:fs/promises';
import { parseJson } from '../results/read-json.js';
import { parseRunResult, type RunResult } from '../results/run-result.js';
import { armsSpread } from '../stats/sequential.js';
import { medianOf } from '../stats/signed-rank.js';
import { ratesFor, round2, type ThroughputRates } from './e2e-plan.js';

/**
 * Rates measured by `run`, for `model`; what the run did not measure (a swap it never made, the card's memory,
 * the exponent between concurrencies it did not run) stays as in `fallback`, and the source line says which run.
 */
export function ratesFromRun(run: RunResult, model: string, fallback: ThroughputRates): ThroughputRates {
  const e2e = run.e2e;
  if (e2e?.backend !== 'vllm-serve')
    throw new Error(`has no vllm-serve e2e (${e2e ? `its backend was ${e2e.backend}` : 'no e2e ran'})`);
  const points = e2e.cells
    .filter((c) => c.status === 'ok' && c.baseline.length > 0)
    .map((c) => ({
      inputLen: Number(c.params.input_len),
      outputLen: Number(c.params.output_len),
      concurrency: Number(c.params.concurrency),
      tokPerS: medianOf(c.baseline),
    }))
    .filter((p) =>
      [p.inputLen, p.outputLen, p.concurrency, p.tokPerS].every((x) => Number.isFinite(x) && x > 0),
    );
  if (points.length === 0) throw new Error('has no finished vllm-serve cell to take throughput from');
  const starts = e2e.plan?.measured?.serverStartSeconds ?? [];
  const swaps = e2e.plan?.measured?.swapSeconds ?? [];
  const clients = e2e.plan?.measured?.clientStartSeconds ?? [];
  const otherModel = e2e.model !== model ? `; measured with ${e2e.model}, not ${model}` : '';
  const spread = armsSpread(e2e.cells);
  return {
    ...fallback,
    source:
      `measured on ${run.identity.runner} (${run.device.name}) by the run of ${run.identity.startedAt}: ` +
      `${points.length} cells' baseline tok/s` +
      `${starts.length > 0 ? `, ${starts.length} server starts` : ''}${swaps.length > 0 ? `, ${swaps.length} sleep-mode swaps` : ''}${otherModel}`,
    card: run.device.name,
    points,
    measuredTimings: {
      serverStart: starts.length > 0,
      sleepSwap: swaps.length > 0,
    },
    swapUsed: e2e.swap,
    serverStartMinutes: starts.length > 0 ? round2(medianOf(starts) / 60) : fallback.serverStartMinutes,
    sleepSwapSeconds: swaps.length > 0 ? round2(medianOf(swaps)) : fallback.sleepSwapSeconds,
    ...(clients.length > 0 ? { clientStartSeconds: round2(medianOf(clients)) } : {}),
    ...(spread ? { runCvPct: round2(spread.baselineCvPct) } : {}),
  };
}

/** The rates in the RunResult file at `path`; an error says which file and what is wrong with it. */
export async function readRatesFile(
  path: string,
  model: string,
  fallback: ThroughputRates,
): Promise<ThroughputRates> {
  try {
    const run = parseRunResult(parseJson(await readFile(path, 'utf8'), path), path);
    return ratesFromRun(run, model, fallback);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(
      `e2e-rates ${path} ${why.startsWith(path) ? why.slice(path.length).trim() : why}: pass the run-result.json of an earlier vllm-serve e2e on this runner`,
    );
  }
}

/**
 * The rates a plan uses: the file's when `file` is given and usable, else the published table, whose source line
 * then says why the file was not used (`warning` too, for the log).
 */
export async function planRates(
  model: string,
  file: string | undefined,
): Promise<{ rates: ThroughputRates; assumed: boolean; warning?: string }> {
  const published = ratesFor(model);
  if (!file) return published;
  try {
    return { rates: await readRatesFile(file, model, published.rates), assumed: false };
  } catch (error) {
    const warning = error instanceof Error ? error.message : String(error);
    return {
      ...published,
      rates: { ...published.rates, source: `${published.rates.source} (${warning}; not used)` },
      warning,
    };
  }
}
