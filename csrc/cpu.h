/* Internal to csrc/: whether this CPU runs the paths written with AVX2 or AVX-512 intrinsics (GCC
   or Clang on x86-64; the gather in sparse_lists.c, the 128-column kernels in sparse.c and
   sparse_relu.c, the transpose in dense.c). Elsewhere only the portable loops exist. */
#ifndef FASTMLP_CPU_H
#define FASTMLP_CPU_H

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define FM_X86_INTRINSICS 1
/* Looked up once, as the library loads. */
int fm_cpu_has_avx2(void);
/* FMA3: our own products (tiles.c) fuse their multiply-adds */
int fm_cpu_has_fma(void);
/* AVX-512 F: the sparse kernels' 128-column passes */
int fm_cpu_has_avx512(void);
#endif

#endif
