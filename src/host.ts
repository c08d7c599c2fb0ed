// What a mode may do to the world it runs in: the action runner or a terminal. Modes take a Host; they never import @actions/*.
import type { WorkflowContext } from './github/context.js';

export interface Host {
  info(message: string): void;
  warning(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  setOutput(name: string, value: string): void;
  /** Appends markdown to the job summary (a no-op in a terminal). */
  summary(markdown: string): Promise<void>;
  /** Keeps a value out of every log line from here on. */
  setSecret(value: string): void;
  /** The workflow environment (GITHUB_* variables, event payload path); empty in a terminal. */
  env: Readonly<Record<string, string | undefined>>;
  /** The event, payload, commit and run, read once at the entry; absent: read from `env` (workflowContextOf). */
  workflow?: WorkflowContext;
  /** A workflow annotation at a file and line (`::error file=…,line=…::`); absent in a terminal. */
  annotate?(message: string, at: { file: string; line: number; title: string }): void;
  /** Shows the whole markdown report in the log (the action's); absent in a terminal, which prints the summary row. */
  report?(markdown: string): void;
  /** Uploads files under rootDir as one workflow artifact; absent where there is no workflow run (the CLI). */
  uploadArtifact?(
    name: string,
    files: string[],
    rootDir: string,
    options?: { retentionDays?: number },
  ): Promise<void>;
}

/** What a mode hands back: the action's outputs and the process exit status. */
export interface ModeOutcome {
  verdict: string;
  resultPath?: string;
  reportPath?: string;
  commentUrl?: string;
  /** 0 unless a correctness case failed, a step stopped the run, or a regression fails the run by choice */
  exitCode: number;
  /** one line for setFailed / stderr when exitCode is not 0 */
  failure?: string;
  /** one plain line per runner: verdict, correctness, kernel, end to end (the report's summary row) */
  summary?: string[];
}

/** The action's outputs from a mode's outcome: set by the action and echoed by the CLI. */
export function writeOutputs(host: Host, outcome: ModeOutcome): void {
  host.setOutput('verdict', outcome.verdict);
  host.setOutput('result-path', outcome.resultPath ?? '');
  host.setOutput('report-path', outcome.reportPath ?? '');
  host.setOutput('comment-url', outcome.commentUrl ?? '');
}
