// The Node the CLI needs, checked before anything that needs it is loaded. No imports: the bin entry bundles it.
export const MIN_NODE_MAJOR = 24;

/** What to tell the user when this Node is too old to run the CLI; undefined when it is new enough. */
export function nodeVersionProblem(version: string, execPath = ''): string | undefined {
  const major = Number.parseInt(version.replace(/^v/, ''), 10);
  if (major >= MIN_NODE_MAJOR) return undefined;
  const which = execPath ? ` (${execPath})` : '';
  return (
    `vllm-kernel-ci needs Node ${MIN_NODE_MAJOR} or newer; this is Node ${version}${which}. ` +
    `Install Node ${MIN_NODE_MAJOR} (https://nodejs.org/en/download, or \`nvm install ${MIN_NODE_MAJOR}\`) and run it with that node.`
  );
}
