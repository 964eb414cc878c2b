"""Views of float64 buffers by address inside compiled (numba) kernels.

A vector env's copies each own their MjData, so a kernel that senses all copies in one call cannot take one
stacked array; it takes a table of the buffers' addresses instead and views each buffer in place (no copy, no
per-copy unboxing of arrays, which costs more than the arithmetic at this size). The caller must keep every
buffer alive, at the same address, for as long as the table is used: MjData's arrays and the envs' own numpy
buffers are allocated once with their owner and never move.
"""
from __future__ import annotations

import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic


@intrinsic
def _float64_pointer(typingctx, address):
    """int64 address → float64* (LLVM inttoptr)."""
    sig = types.CPointer(types.float64)(types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.float64)))

    return sig, codegen


@njit(inline="always")
def float64_view(address, length):
    """A float64 array of `length` at `address` (inside a kernel only)."""
    return carray(_float64_pointer(address), (length,))


def addresses(arrays) -> list[int]:
    """The data addresses of C-contiguous float64 arrays, checked (a kernel would read garbage otherwise)."""
    out = []
    for a in arrays:
        if a.dtype != np.float64 or not a.flags.c_contiguous:
            raise ValueError(f"need a C-contiguous float64 array, got {a.dtype} {a.flags}")
        out.append(a.ctypes.data)
    return out


@njit(cache=True, nogil=True)
def gather_float32(buffers, rows, sizes, out):
    """For each row r in `rows`: out[r] = the float64 buffers at addresses buffers[r] (lengths `sizes`) one after
    the other, rounded to float32 (as numpy's astype / concatenate(dtype=float32) round)."""
    for j in range(rows.shape[0]):
        r = rows[j]
        k = 0
        for b in range(sizes.shape[0]):
            src = float64_view(buffers[r, b], sizes[b])
            for i in range(sizes[b]):
                out[r, k] = src[i]
                k += 1
