"""The compile matrix's readers of assembly, and the gate's launch heuristic per warp size (no compiling here:
test/compile-matrix.test.ts compiles for real)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "fused_shared_expert_gate"))
sys.path.insert(0, str(HERE))

import shared_expert_gate as sg  # noqa: E402
import torch  # noqa: E402
import triton  # noqa: E402

import compile_matrix  # noqa: E402


def _launch_settings_for_32_thread_warps(k: int, elt: int) -> tuple[int, int, int]:
    """The heuristic as it was before it learnt the target's warp size."""
    block_k = min(triton.next_power_of_2(k), 8192)
    threads = max(32, block_k * elt // 16)
    return block_k, triton.cdiv(k, block_k), min(16, max(1, threads // 32))


@pytest.mark.parametrize("elt", [2, 4])
def test_nvidia_launch_settings_are_unchanged(elt):
    for k in range(1, 20_000, 7):
        assert sg._launch_settings(k, elt, 32) == _launch_settings_for_32_thread_warps(k, elt), k


@pytest.mark.parametrize("elt", [2, 4])
@pytest.mark.parametrize("k", [1024, 2048, 2880, 3584, 4096, 7168, 16384])
def test_amd_wavefronts_take_16_bytes_per_thread(k, elt):
    block_k, _, warps = sg._launch_settings(k, elt, 64)
    assert block_k * elt // (warps * 64) >= 16


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU driver answers with its own warp size")
def test_without_a_gpu_driver_the_warp_size_is_32():
    # the CPU interpreter: no driver to ask, and the interpreter ignores warps anyway
    assert sg._target_warp_size() == 32


def test_ptx_access_widths():
    ptx = """
    @%p1 ld.global.v4.b32 { %r1, %r2, %r3, %r4 }, [ %rd1 + 0 ];
    ld.global.L1::evict_last.v2.b32 { %r5, %r6 }, [ %rd2 + 0 ];
    ld.global.b16 %rs1, [ %rd3 + 0 ];
    @%p2 st.global.v4.b32 [ %rd4 + 0 ], { %r7, %r8, %r9, %r10 };
    ld.shared.v4.b32 { %r11, %r12, %r13, %r14 }, [ %r15 ];
    """
    assert compile_matrix.ptx_accesses(ptx) == {"load": {16: 1, 8: 1, 2: 1}, "store": {16: 1}}


def test_amd_access_widths():
    asm = """
	buffer_load_dwordx4 v[2:5], v1, s[4:7], 0 offen
	global_load_dwordx2 v[6:7], v0, s[8:9]
	buffer_load_ushort v8, v1, s[4:7], 0 offen
	global_store_dwordx4 v0, v[2:5], s[10:11]
	ds_read_b128 v[10:13], v9
    """
    assert compile_matrix.amd_accesses(asm) == {"load": {16: 1, 8: 1, 2: 1}, "store": {16: 1}}
