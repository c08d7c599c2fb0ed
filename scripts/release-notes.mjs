// Prints the CHANGELOG.md section of a release tag, after checking the tag against package.json and the RunResult
// schema version the section names. `node scripts/release-notes.mjs v0.1.0 > notes.md`; exit 1 with the reason.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SEMVER = /^v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/;

/** The notes of one version: the text under `## [version]` up to the next `## `; throws what is wrong. */
export function releaseNotes(changelog, version, schemaVersion) {
  const heading = new RegExp(`^## \\[${version.replaceAll('.', '\\.')}\\] - \\d{4}-\\d{2}-\\d{2}$`, 'm');
  const found = heading.exec(changelog);
  if (!found) {
    throw new Error(
      `CHANGELOG.md has no section '## [${version}] - YYYY-MM-DD'. Add one (Keep a Changelog) before tagging.`,
    );
  }
  const rest = changelog.slice(found.index + found[0].length);
  // up to the next release; the link definitions at the file's end are not notes
  const body = rest
    .split(/^## /m)[0]
    .replace(/^\[[^\]]+\]: \S+$/gm, '')
    .trim();
  const named = /RunResult schema (\d+)/.exec(body);
  if (!named)
    throw new Error(`CHANGELOG.md's ${version} section does not name its RunResult schema version.`);
  if (Number(named[1]) !== schemaVersion) {
    throw new Error(
      `CHANGELOG.md's ${version} section names RunResult schema ${named[1]}, but this release writes schema ${schemaVersion}.`,
    );
  }
  return `${body}\n`;
}

/** The version a tag releases, checked against package.json. */
export function tagVersion(tag, packageVersion) {
  const m = SEMVER.exec(tag);
  if (!m) throw new Error(`Tag '${tag}' is not a release tag: expected vMAJOR.MINOR.PATCH, e.g. v0.1.0.`);
  if (m[1] !== packageVersion) {
    throw new Error(
      `Tag '${tag}' does not match package.json's version ${packageVersion}: bump one of them.`,
    );
  }
  return m[1];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  try {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
    const schema = JSON.parse(await readFile(join(root, 'docs/run-result.schema.json'), 'utf8'));
    const version = tagVersion(process.argv[2] ?? '', pkg.version);
    const changelog = await readFile(join(root, 'CHANGELOG.md'), 'utf8');
    process.stdout.write(releaseNotes(changelog, version, schema.properties.schema.const));
  } catch (error) {
    process.stderr.write(`release-notes: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
