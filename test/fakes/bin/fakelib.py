"""Shared state of the fake tools: which fake vLLM servers hold GPU memory."""

import os

STATE = os.environ.get("FAKE_STATE_DIR", "/tmp")


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


def gpu_memory_used_mib() -> int:
    used = 0
    if not os.path.isdir(STATE):
        return used
    for name in os.listdir(STATE):
        if name.startswith("gpu-holder-") and alive(int(name.split("-")[-1])):
            used += 70_000
    return used


def hold_gpu_memory(pid: int) -> None:
    os.makedirs(STATE, exist_ok=True)
    open(os.path.join(STATE, f"gpu-holder-{pid}"), "w").close()
