// Whether a fork's pull request may have changed the workflows, from what GitHub lists of its files. Pure.
//
// GitHub's list-files answer stops at 3000 files: 3000 padding files that sort before .github/ would hide a
// workflow edit. So the listed count must equal the pull request's changed_files, and a PR of more than 3000
// files counts as changing the workflows.

/** The most files GitHub's `GET /repos/{owner}/{repo}/pulls/{n}/files` lists. */
export const LIST_FILES_MAX = 3000;
const WORKFLOWS = '.github/workflows/';

export interface ListedFile {
  filename: string;
  /** a rename's old path: moving a workflow away changes it too */
  previous_filename?: string;
}

/** Why the pull request counts as changing .github/workflows/, or undefined when it does not. */
export function workflowChangeReason(
  pr: number,
  changedFiles: number,
  listed: readonly ListedFile[],
): string | undefined {
  if (changedFiles > LIST_FILES_MAX)
    return `fork pull request #${pr} changes ${changedFiles} files, more than the ${LIST_FILES_MAX} GitHub lists, so an edit under ${WORKFLOWS} could be hidden`;
  if (listed.length !== changedFiles)
    return `GitHub listed ${listed.length} of the ${changedFiles} files fork pull request #${pr} changes, so an edit under ${WORKFLOWS} could be hidden`;
  const changed = [...new Set(listed.flatMap((f) => [f.filename, f.previous_filename ?? '']))].filter((f) =>
    f.startsWith(WORKFLOWS),
  );
  if (changed.length === 0) return undefined;
  return `fork pull request #${pr} changes ${changed.slice(0, 3).join(', ')}${changed.length > 3 ? ' and more' : ''} under ${WORKFLOWS}, so the run that uploaded this RunResult may not be this repository's validate workflow`;
}
