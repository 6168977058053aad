/* Internal to csrc/: what the hand-vectorised sparse kernels share (sparse.c, sparse_lists.c). */
#ifndef FASTMLP_SIMD_H
#define FASTMLP_SIMD_H

#include "cpu.h"

/* Helpers of the FM_VECTORIZED kernels must be inlined into them to get their wide clones. */
#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

#ifdef FM_X86_INTRINSICS
#define AVX512 __attribute__((target("avx512f")))
#endif

#endif
