// RunResults → markdown. Pure.
import type { RunResult } from '../results/run-result.js';

export function renderReport(results: RunResult[]): string {
  const lines = ['# vllm-kernel-ci report', ''];
  for (const r of results) {
    lines.push(
      `## ${r.identity.runner}: ${r.device.name}`,
      '',
      '| step | status | note |',
      '| --- | --- | --- |',
    );
    for (const s of r.steps) lines.push(`| ${s.name} | ${s.status} | ${s.reason ?? ''} |`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
