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


def _pointer_intrinsic(dtype):
    """An intrinsic: int64 address → dtype* (LLVM inttoptr)."""

    @intrinsic
    def pointer(typingctx, address):
        sig = types.CPointer(dtype)(types.int64)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(types.CPointer(dtype)))

        return sig, codegen

    return pointer


_float64_pointer, _float32_pointer = _pointer_intrinsic(types.float64), _pointer_intrinsic(types.float32)
_int64_pointer = _pointer_intrinsic(types.int64)


@njit(inline="always")
def float64_view(address, length):
    """A float64 array of `length` at `address` (inside a kernel only)."""
    return carray(_float64_pointer(address), (length,))


@njit(inline="always")
def float32_view(address, length):
    """A float32 array of `length` at `address` (inside a kernel only)."""
    return carray(_float32_pointer(address), (length,))


@njit(inline="always")
def float64_matrix(address, rows, cols):
    """A C-ordered float64 array of shape (rows, cols) at `address` (inside a kernel only)."""
    return carray(_float64_pointer(address), (rows, cols))


@njit(inline="always")
def int64_view(address, length):
    """An int64 array of `length` at `address` (inside a kernel only)."""
    return carray(_int64_pointer(address), (length,))


def addresses(arrays, dtypes=None) -> list[int]:
    """The data addresses of C-contiguous arrays of `dtypes` (default all float64), checked (a kernel would read
    garbage otherwise)."""
    out = []
    for a, dtype in zip(arrays, dtypes or [np.float64] * len(arrays), strict=True):
        if a.dtype != dtype or not a.flags.c_contiguous:
            raise ValueError(f"need a C-contiguous {np.dtype(dtype)} array, got {a.dtype} {a.flags}")
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
