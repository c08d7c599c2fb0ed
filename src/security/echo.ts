// Text echoed to the runner's log that could hold a workflow command (a PR's test output, a log tail): the
// runner must print it, not obey it. Pure.
import { randomBytes } from 'node:crypto';

/** Lines the runner reads as commands: `::name ...::` (after leading blanks) and the older `##[name ...]`. */
const COMMAND_LIKE = /(^|\n)[ \t]*::|##\[/;

/**
 * The text as is when nothing in it looks like a command; else between `::stop-commands::TOKEN` and `::TOKEN::`,
 * with a token drawn for this call, so no line inside (not even a guessed resume line) is processed.
 */
export function guardWorkflowCommands(text: string, token = randomBytes(16).toString('hex')): string {
  if (!COMMAND_LIKE.test(text)) return text;
  return `::stop-commands::${token}\n${text}\n::${token}::`;
}
