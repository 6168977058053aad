/* The backward product of a layer whose inputs are a ReLU's outputs, listed as non-zeros
   (sparse_lists.c): dx = (dz W^T) * relu'(x) as one dot product of dz's row and a weight row per
   positive input, and zeros elsewhere, for the layers after a ReLU that skip its zeros. */
#include <string.h>

#include "fastmlp.h"
#include "simd.h"

static void relu_backward_row(float *out, const fm_sparse *x, int r, const float *g, const float *W,
                              int ld_w, int n_out)
{
    for (int k = x->row_start[r]; k < x->row_start[r + 1]; k++)
        if (x->row_value[k] > 0.0f) /* not a NaN, which relu' takes as 0 */
            out[x->row_index[k]] = fm_dot(g, W + (size_t)x->row_index[k] * ld_w, n_out);
}

#ifdef FM_X86_INTRINSICS
/* Entries whose dot products AVX-512 takes at once: one accumulator of 16 lanes each. */
#define DOTS 8

/* a's low and high 8 lanes added (AVX-512 F has no float extract of 8 lanes: it moves 4
   doubles) */
AVX512 static inline __m256 halves_sum(__m512 a)
{
    __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
    return _mm256_add_ps(_mm512_castps512_ps256(a), high);
}

/* The lane sums of 8 accumulators in one vector, lane e for a[e]: halves added, then the
   horizontal adds of a transpose. */
AVX512 static inline __m256 dots_of_8(const __m512 *a)
{
    __m256 h[DOTS];
    for (int e = 0; e < DOTS; e++)
        h[e] = halves_sum(a[e]);
    __m256 h01 = _mm256_hadd_ps(h[0], h[1]), h23 = _mm256_hadd_ps(h[2], h[3]);
    __m256 h45 = _mm256_hadd_ps(h[4], h[5]), h67 = _mm256_hadd_ps(h[6], h[7]);
    __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = _mm256_hadd_ps(h45, h67);
    /* q0's low half holds the sums of lanes 0-3 of a[0..3], its high half those of 4-7 */
    return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20),
                         _mm256_permute2f128_ps(q0, q1, 0x31));
}

AVX512 INLINE void dots_into(float *dx, int ld_dx, int i, int *rows, int count, const float *w,
                             const float *dz, int ld_dz, int n_out)
{
    /* dx[r, i] = dz[r] . w for the `count` (<= 8) rows r: 8 accumulators of 16 lanes that share
       each load of w; a short group is filled up with copies of its first row, whose sums go
       nowhere (8 sums at once cost less than a few one by one) */
    for (int e = count; e < DOTS; e++)
        rows[e] = rows[0];
    const float *z[DOTS];
    __m512 acc[DOTS];
    for (int e = 0; e < DOTS; e++) {
        z[e] = dz + (size_t)rows[e] * ld_dz;
        acc[e] = _mm512_setzero_ps();
    }
    for (int c = 0; c < n_out; c += 16) {
        __m512 wc = _mm512_loadu_ps(w + c);
        for (int e = 0; e < DOTS; e++)
            acc[e] = _mm512_fmadd_ps(wc, _mm512_loadu_ps(z[e] + c), acc[e]);
    }
    float sums[DOTS];
    _mm256_storeu_ps(sums, dots_of_8(acc));
    for (int e = 0; e < count; e++)
        dx[(size_t)rows[e] * ld_dx + i] = sums[e];
}

AVX512 static void relu_backward_avx512(float *dx, int ld_dx, const fm_sparse *x, const float *dz,
                                        int ld_dz, const float *W, int ld_w, int n_out)
{
    /* fm_sparse_relu_backward for n_out a multiple of 16, over x's lists by columns: each row of
       W is read once, for the dot products of all its entries, against rows of dz in the L1
       cache. (By rows, reading W's row once per entry, it ran about as fast, with W in the L2
       cache.) An entry's sum takes the same steps in any company: its bits do not depend on the
       others. */
    for (int i = 0; i < x->n_in; i++) {
        const float *w = W + (size_t)i * ld_w;
        int rows[DOTS], count = 0;
        for (int k = x->col_start[i]; k < x->col_start[i + 1]; k++) {
            if (!(x->col_value[k] > 0.0f)) /* not a NaN, which relu' takes as 0 */
                continue;
            rows[count++] = x->col_index[k] - x->first_row;
            if (count == DOTS) {
                dots_into(dx, ld_dx, i, rows, count, w, dz, ld_dz, n_out);
                count = 0;
            }
        }
        if (count > 0)
            dots_into(dx, ld_dx, i, rows, count, w, dz, ld_dz, n_out);
    }
}
#endif

FM_VECTORIZED
void fm_sparse_relu_backward(float *dx, int ld_dx, const fm_sparse *rows, const float *dz,
                             int ld_dz, const float *W, int ld_w, int n_out)
{
    /* dx (n, n_in) = (dz W^T) * relu'(x), x the rows' inputs (a ReLU's outputs): dx[r, j] =
       dz[r] . W[j] where x[r, j] > 0, and 0 wherever relu' is, the product left uncomputed there */
    const fm_sparse copy = *rows, *x = &copy;
    for (int r = 0; r < x->n; r++)
        memset(dx + (size_t)r * ld_dx, 0, sizeof(float) * x->n_in);
#ifdef FM_X86_INTRINSICS
    if (fm_cpu_has_avx512() && n_out % 16 == 0 && x->columns) {
        relu_backward_avx512(dx, ld_dx, x, dz, ld_dz, W, ld_w, n_out);
        return;
    }
#endif
    for (int r = 0; r < x->n; r++)
        relu_backward_row(dx + (size_t)r * ld_dx, x, r, dz + (size_t)r * ld_dz, W, ld_w, n_out);
}
