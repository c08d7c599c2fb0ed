#!/usr/bin/env bash
# The sandbox with the real GPU: the conformance suite of the seed-shaped PR kernel (test/fixtures/pr-shapes/)
# run inside bubblewrap with the flags, mounts and environment of the tool's sandbox (src/security/sandbox.ts,
# bwrapArgv; a test keeps the flags the same). No Node and no network needed. Carried beside the clone in .gpu/:
# bubblewrap.deb (Debian 12's 0.8.0, `apt-get download bubblewrap`), and libcap2.deb, libselinux1.deb,
# libpcre2-8-0.deb, unpacked only when the host lacks those libraries. Writes to $OUT: junit.xml, sandbox.log
# (everything), sandbox-note.txt (what the code inside saw). Usage: OUT=dir scripts/gpu/gpu_sandbox.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:?set OUT to the output directory}
mkdir -p "$out"
exec > >(tee -a "$out/sandbox.log") 2>&1
work=$(mktemp -d /tmp/vkci-sandbox-XXXXXX)
py=${PYTHON:-python3}
bundle=$root/kernels/fused_shared_expert_gate
note=$out/sandbox-note.txt
token=fake-actions-runtime-token-issue-23
step() { echo "== $1 ($(date -u +%H:%M:%S))"; }

step "bubblewrap from the carried .deb"
dpkg -x "$root/.gpu/bubblewrap.deb" "$work/deb" || exit 1
bwrap=$work/deb/usr/bin/bwrap
libs=""
if ldd "$bwrap" | grep -q 'not found'; then
  ldd "$bwrap"
  for d in libcap2 libselinux1 libpcre2-8-0; do
    [ -f "$root/.gpu/$d.deb" ] && dpkg -x "$root/.gpu/$d.deb" "$work/deb"
  done
  libs=$work/deb/lib/x86_64-linux-gnu:$work/deb/usr/lib/x86_64-linux-gnu
fi
LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$bwrap" --version || exit 1

step "the tree (the seed-shaped PR kernel) and the step's scratch"
tree=$work/tree
kernel=$tree/vllm/model_executor/layers/fused_moe/shared_expert_gate.py
mkdir -p "$(dirname "$kernel")" "$work/scratch/tmp"
scratch=$work/scratch
cp "$root/test/fixtures/pr-shapes/shared_expert_gate.py" "$kernel"

# the job's tokens are in this shell's environment, as in the action's: none may reach the sandbox
export ACTIONS_RUNTIME_TOKEN=$token HF_TOKEN=hf_fake_issue_23 INPUT_GITHUB_TOKEN=ghs_fake_issue_23
# the allowlisted environment (security/child-env.ts, the names a GPU run needs), bwrap itself started with it
mapfile -t allow < <(env | grep -E '^(PATH|HOME|USER|LANG|LANGUAGE|LC_[A-Z]+|TERM|TZ|VIRTUAL_ENV|LD_LIBRARY_PATH|(CUDA|CUDNN|NVIDIA|NCCL|TRITON|TORCH|TORCHINDUCTOR|PYTORCH|PYTHON)[A-Z0-9_]*)=' |
  grep -vE '^[^=]*(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE_KEY|AUTH)')
[ -n "$libs" ] && allow+=("LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
allow+=("VLLM_KERNEL_CI_IMPL=$kernel::fused_shared_expert_gate" "PYTHONPATH=$root/kernels" PYTHONUNBUFFERED=1)

# bwrapArgv: namespaces, / read-only, GPU nodes, tmpfs /tmp, hidden paths, then the tree and scratch writable
devices() { for d in /dev/nvidia* /dev/kfd /dev/dri; do [ -e "$d" ] && printf '%s\n' --dev-bind "$d" "$d"; done; }
argv=(--unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try --unshare-net --die-with-parent --new-session
  --ro-bind / / --dev /dev --proc /proc)
mapfile -t -O "${#argv[@]}" argv < <(devices)
# the clone back read-only when it sits under /tmp, before the hidden paths so $OUT inside it stays hidden
argv+=(--tmpfs /tmp --ro-bind "$root" "$root")
for h in "$out" "${RUNNER_TEMP:-}"; do [ -n "$h" ] && [ -d "$h" ] && argv+=(--tmpfs "$h"); done
argv+=(--bind "$tree" "$tree" --bind "$scratch" "$scratch"
  --setenv HOME "$scratch" --setenv TMPDIR "$scratch/tmp" --chdir "$bundle")
run_in() { env -i "${allow[@]}" "$bwrap" "${argv[@]}" -- "$@"; }

step "what the code inside sees"
probe=$(
  cat <<'EOF'
import os, socket, sys
token = sys.argv[1].encode()
print("pid", os.getpid(), "ppid", os.getppid())
for ns in ("pid", "mnt", "net", "ipc", "uts"):
    print(f"namespace {ns}: {os.readlink(f'/proc/self/ns/{ns}')}")
print("processes in /proc:", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
env1 = [v for v in open("/proc/1/environ", "rb").read().split(b"\0") if v]
print("/proc/1/environ names:", sorted(v.split(b"=")[0].decode() for v in env1))
print("token in /proc/1/environ:", any(token in v for v in env1))
leaked = []
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            if token in open(f"/proc/{p}/environ", "rb").read():
                leaked.append(p)
        except OSError:
            pass
print("token in any /proc/*/environ:", leaked or "no")
print("environment names:", sorted(os.environ))
print("interfaces:", [n for _, n in socket.if_nameindex()])
try:
    open("/etc/vkci-probe", "w")
    print("/ writable: yes (WRONG)")
except OSError as e:
    print("/ read-only:", e.strerror)
print("output dir as seen inside:", os.listdir(sys.argv[2]) if os.path.isdir(sys.argv[2]) else "absent")
import torch
print("cuda:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
print("/dev nodes:", sorted(n for n in os.listdir("/dev") if n.startswith(("nvidia", "kfd", "dri"))))
EOF
)
{
  echo "# What ran inside the sandbox ($(date -u +%FT%TZ), $(hostname))"
  echo "bwrap: $(env LD_LIBRARY_PATH="$libs" "$bwrap" --version); libraries from the carried .debs: ${libs:-none needed}"
  echo "argv: bwrap ${argv[*]} -- python3 ..."
  echo "outside: pid namespace $(readlink /proc/self/ns/pid), net $(readlink /proc/self/ns/net)"
  echo "outside the sandbox this shell holds ACTIONS_RUNTIME_TOKEN, HF_TOKEN and INPUT_GITHUB_TOKEN (fakes)"
  timeout 60 bash -c "$(declare -f run_in); $(declare -p allow argv bwrap); run_in $py -c \"\$1\" $token $out" _ "$probe"
  echo "probe exit $?"
} >"$note" 2>&1
cat "$note"

step "a setsid daemon started inside is gone when its command ends"
run_in sh -c 'setsid sleep 321 </dev/null >/dev/null 2>&1 & echo started daemon $!'
sleep 1
left=$(pgrep -f '^sleep 321$')
if [ -n "$left" ]; then
  echo "setsid daemon outlived the sandbox: WRONG (pids $left)" | tee -a "$note"
  kill $left
else echo "setsid daemon outlived the sandbox: no" | tee -a "$note"; fi

step "the conformance suite of the PR kernel, inside, on the GPU"
t0=$(date +%s)
timeout 170 bash -c "$(declare -f run_in); $(declare -p allow argv bwrap); run_in $py -m pytest -q -p no:cacheprovider \
  -p junit_params -o junit_family=xunit1 --junitxml=$scratch/junit.xml test_conformance.py" 2>&1 | tail -15
echo "pytest exit ${PIPESTATUS[0]} in $(($(date +%s) - t0)) s" | tee -a "$note"
# read back by the judge once the sandbox is gone: a regular file, never a link
if [ -f "$scratch/junit.xml" ] && [ ! -L "$scratch/junit.xml" ]; then
  cp "$scratch/junit.xml" "$out/junit.xml"
  grep -o '<testsuite [^>]*>' "$out/junit.xml" | head -1 | tee -a "$note"
else
  echo "no JUnit report" | tee -a "$note"
fi
rm -rf "$work"
step "done"
