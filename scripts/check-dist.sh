#!/usr/bin/env bash
# Fails when dist/ or docs/run-result.schema.json differ from a fresh build of src/: the committed files are what
# users run, so CI and the release check them against the source they claim to come from.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
changed=$(git status --porcelain --untracked-files=all -- dist docs/run-result.schema.json)
if [ -n "$changed" ]; then
  echo "dist/ or docs/run-result.schema.json do not match a fresh build of src/. Run 'npm run build' and commit the result:" >&2
  echo "$changed" >&2
  exit 1
fi
echo "dist/ and docs/run-result.schema.json match a fresh build of src/"
