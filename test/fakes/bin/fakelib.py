"""Shared state of the fake tools: which fake vLLM servers hold how much GPU memory."""

import os

STATE = os.environ.get("FAKE_STATE_DIR", "/tmp")
# one H200 (fixtures/gpu/tools/nvidia-smi-query.csv) or one MI355X (288 GiB)
TOTAL_MIB = int(os.environ.get("FAKE_GPU_MEM_MIB", "294912" if os.environ.get("FAKE_GPU") == "amd" else "143771"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie has released its memory
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def gpu_memory_used_mib(but: int | None = None) -> int:
    used = 0
    if not os.path.isdir(STATE):
        return used
    for name in os.listdir(STATE):
        if name.startswith("gpu-holder-"):
            pid = int(name.split("-")[-1])
            if pid != but and alive(pid):
                text = open(os.path.join(STATE, name)).read().strip()
                used += int(text) if text else 70_000
    return used


def hold_gpu_memory(pid: int, mib: int = 70_000) -> None:
    os.makedirs(STATE, exist_ok=True)
    with open(os.path.join(STATE, f"gpu-holder-{pid}"), "w") as f:
        f.write(str(mib))
