#!/usr/bin/env bash
# Lints workflows (default: the examples in docs/workflows and the project's own .github/workflows) with actionlint, built once from source through the
# Go module proxy and cached outside the clone by version, so fresh clones and CI reuse it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=v1.7.12
cache=${VLLM_KERNEL_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vllm-kernel-ci}
bin="$cache/bin/actionlint-$version"
if [ ! -x "$bin" ]; then
  if ! command -v go >/dev/null; then
    echo "actionlint: $bin is missing and Go is not installed. Install Go 1.24+ (https://go.dev/dl/), or put the actionlint $version binary at that path." >&2
    exit 1
  fi
  echo "actionlint: building $version into $bin (once)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" go install "github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
  mkdir -p "$cache/bin"
  # copy then rename, so a concurrent run never executes a half-written binary
  cp "$tmp/actionlint" "$bin.$$"
  mv -f "$bin.$$" "$bin"
fi
if [ $# -eq 0 ]; then
  shopt -s nullglob
  set -- "$root"/docs/workflows/*.yml "$root"/.github/workflows/*.yml "$root"/.github/workflows/*.yaml
fi
exec "$bin" -no-color -config-file "$root/docs/workflows/actionlint.yaml" "$@"
