# Sourced by the scripts of this folder on a GPU host that has no Node and no network: unpacks what was carried
# beside the clone, .gpu/node.xz (xz of node_modules/node/bin/node) and .gpu/vllm-0.33.0-py.tar.xz (the .py files
# of vLLM 0.33.0's PyPI sdist, from ~/.cache/vllm-kernel-ci/pypi/), into $work; puts node on PATH and points
# VLLM_KERNEL_CI_CACHE at the unpacked source. Needs: root (the repository) and work (a scratch directory).
carried_tools() {
  local gpu="$root/.gpu"
  for f in node.xz vllm-0.33.0-py.tar.xz; do
    [ -f "$gpu/$f" ] || { echo "missing $gpu/$f: carry it beside the clone (see scripts/gpu/carried.sh)" >&2; return 1; }
  done
  mkdir -p "$work/bin" "$work/cache/pypi"
  xz -dc "$gpu/node.xz" >"$work/bin/node" && chmod +x "$work/bin/node"
  tar -xJf "$gpu/vllm-0.33.0-py.tar.xz" -C "$work/cache/pypi" && echo carried >"$work/cache/pypi/vllm-0.33.0.complete"
  export PATH="$work/bin:$PATH" VLLM_KERNEL_CI_CACHE="$work/cache"
  node --version
}
