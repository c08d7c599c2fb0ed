// Why a vllm serve stopped, in one line, as the e2e reports it: from the real 0.20.2 server log of the H200 run
// (fixtures/gpu/vllm-serve-h200) and from the failure shapes vLLM's own source writes (the EngineCore logs the
// exception; the API server then raises one that only points above it).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failureLine } from '../src/pipeline/serve.js';
import { ROOT } from './helpers.js';

const engine = (line: string) => `(EngineCore pid=1104) ERROR 12-03 11:20:57 [core.py:1584] ${line}`;
const api = (line: string) => `(APIServer pid=973) ${line}`;

describe('failureLine', () => {
  it('a failed start: the EngineCore\'s exception, not "Engine core initialization failed. See root cause above."', () => {
    const log = [
      api('INFO 12-03 11:19:56 [utils.py:233] non-default args: {}'),
      engine('EngineCore failed to start.'),
      engine('Traceback (most recent call last):'),
      engine('  File ".../vllm/v1/engine/core.py", line 1562, in run_engine_core'),
      engine(
        'ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`.',
      ),
      api('Traceback (most recent call last):'),
      api('  File ".../vllm/entrypoints/cli/main.py", line 75, in main'),
      api(
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {'EngineCore': 1}",
      ),
    ].join('\n');
    expect(failureLine(log)).toBe(
      'ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`.',
    );
  });

  it("a death while serving: the CUDA error, not EngineDeadError's pointer to it", () => {
    const log = [
      engine('EngineCore encountered a fatal error.'),
      engine('torch.AcceleratorError: CUDA error: an illegal memory access was encountered'),
      api('ERROR 12-03 11:21:02 [async_llm.py:700] AsyncLLM output_handler failed.'),
      api(
        'vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.',
      ),
      api('INFO:     Shutting down'),
    ].join('\n');
    expect(failureLine(log)).toBe(
      'torch.AcceleratorError: CUDA error: an illegal memory access was encountered',
    );
  });

  it("no exception: the last line, without vLLM's prefixes (the real server log of the H200 run)", async () => {
    const log = await readFile(
      join(ROOT, 'fixtures/gpu/vllm-serve-h200/ab-first-rounds/server-baseline-head.log'),
      'utf8',
    );
    // its warnings quote an OSError inside a sentence; that is not an exception of the server
    expect(log).toContain('`OSError: [Errno 24] Too many open files`');
    expect(failureLine(log)).toBe('INFO:');
    expect(
      failureLine(
        `${log}\n(APIServer pid=973) INFO 12-03 11:30:00 [launcher.py:100] Shutting down FastAPI HTTP server.`,
      ),
    ).toBe('Shutting down FastAPI HTTP server.');
    expect(failureLine('')).toBe('no output');
  });
});
