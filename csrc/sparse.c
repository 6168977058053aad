/* The sparse kernels: a layer over inputs that are mostly zero (images, and a ReLU's outputs),
   where most of such a network's work is. Its forward product and its weight gradient become
   sums over the non-zero inputs only, listed by sparse_lists.c: the same terms as the dense
   GEMMs, with the zero ones left out.

   - fm_sparse_forward sums, for each row, the weight rows of its non-zero inputs, 64 columns at
     a time in registers (128 with AVX-512, or four rows at once where they are listed in groups).
   - fm_sparse_update sums each weight row's gradient over its input's non-zeros and steps it at
     once, the gradient still in registers; fm_sparse_gradient writes that gradient instead.
   (fm_sparse_relu_backward, in sparse_relu.c, gives the backward product of the layer after a
   ReLU only where the ReLU's derivative is not zero.)
   The kernels are bound by the L2 cache: a weight row read per non-zero, and the whole first
   layer and its velocity streamed once a step. */
#include <string.h>

#include "fastmlp.h"
#include "simd.h"

/* Output columns summed at once: 64 floats are 8 AVX registers of accumulators, which the
   compiler keeps in registers while the non-zero inputs stream past. */
#define BLOCK 64
/* ... and with AVX-512, 128 (see weighted_sum_wide) */
#define WIDE 128

/* Whether the forward pass over width columns takes rows in groups, so that the gather should
   list the groups' inputs: with AVX-512 only (four rows' sums over 64 columns fill 16 of its 32
   registers), for the columns it takes 128 at a time. */
int fm_sparse_groups_pay(int width)
{
#ifdef FM_X86_INTRINSICS
    return fm_cpu_has_avx512() && width >= WIDE;
#else
    (void)width;
    return 0;
#endif
}

#if defined(__GNUC__)
/* 8 floats; aligned(4) so that loads through it may be unaligned. The compiler lowers it to one
   AVX register, or two SSE ones in the default clone. */
typedef float v8 __attribute__((vector_size(32), aligned(4)));

/* The body of momentum_step_64 and momentum_step_wide, 8 vectors of type vec: the gradient of
   weight row j over the parts' non-zeros in its column, kept in registers, then the step
   v = mu v + c w - lr g, w += v. One text for both, so their bits cannot part. */
// clang-format off
#define MOMENTUM_STEP(vec)                                                                      \
    vec g0 = {0}, g1 = {0}, g2 = {0}, g3 = {0}, g4 = {0}, g5 = {0}, g6 = {0}, g7 = {0};        \
    for (int p = 0; p < n_parts; p++) {                                                         \
        const int32_t *index = parts[p].col_index;                                              \
        const float *value = parts[p].col_value;                                                \
        for (int k = parts[p].col_start[j]; k < parts[p].col_start[j + 1]; k++) {               \
            const vec *q = (const vec *)(dz + (size_t)index[k] * ldz);                          \
            float a = value[k];                                                                 \
            g0 += a * q[0]; g1 += a * q[1]; g2 += a * q[2]; g3 += a * q[3];                     \
            g4 += a * q[4]; g5 += a * q[5]; g6 += a * q[6]; g7 += a * q[7];                     \
        }                                                                                       \
    }                                                                                           \
    vec *pw = (vec *)w, *pv = (vec *)v, t;                                                      \
    t = mu * pv[0] + c * pw[0] - lr * g0; pv[0] = t; pw[0] += t;                                \
    t = mu * pv[1] + c * pw[1] - lr * g1; pv[1] = t; pw[1] += t;                                \
    t = mu * pv[2] + c * pw[2] - lr * g2; pv[2] = t; pw[2] += t;                                \
    t = mu * pv[3] + c * pw[3] - lr * g3; pv[3] = t; pw[3] += t;                                \
    t = mu * pv[4] + c * pw[4] - lr * g4; pv[4] = t; pw[4] += t;                                \
    t = mu * pv[5] + c * pw[5] - lr * g5; pv[5] = t; pw[5] += t;                                \
    t = mu * pv[6] + c * pw[6] - lr * g6; pv[6] = t; pw[6] += t;                                \
    t = mu * pv[7] + c * pw[7] - lr * g7; pv[7] = t; pw[7] += t
// clang-format on

INLINE void weighted_sum_vectors(float *out, const int32_t *index, const float *value, int count,
                                 const float *base, int ld, const int vectors)
{
    /* out (8 vectors,) += sum over k of value[k] * base[index[k] * ld, :8 vectors], the sums in
       up to eight vector registers (vectors is a constant once inlined, so the loops unroll) */
    v8 *o = (v8 *)out, s[8];
    for (int i = 0; i < vectors; i++)
        s[i] = o[i];
    for (int k = 0; k < count; k++) {
        const v8 *p = (const v8 *)(base + (size_t)index[k] * ld);
        float a = value[k];
        for (int i = 0; i < vectors; i++)
            s[i] += a * p[i];
    }
    for (int i = 0; i < vectors; i++)
        o[i] = s[i];
}
#define HAVE_VECTORS 1
#endif

INLINE void weighted_sum(float *out, const int32_t *index, const float *value, int count,
                         const float *base, int ld, int width)
{
    /* out (width,) += sum over k of value[k] * base[index[k] * ld, :width], width <= BLOCK. Each
       output sums its terms in the order of k, whichever way its column is reached: the bits do
       not depend on where a block of columns begins or ends. */
#ifdef HAVE_VECTORS
    if (width == BLOCK) {
        weighted_sum_vectors(out, index, value, count, base, ld, 8);
        return;
    }
    int t = 0;
    if (width - t >= 32) {
        weighted_sum_vectors(out + t, index, value, count, base + t, ld, 4);
        t += 32;
    }
    if (width - t >= 16) {
        weighted_sum_vectors(out + t, index, value, count, base + t, ld, 2);
        t += 16;
    }
    if (width - t >= 8) {
        weighted_sum_vectors(out + t, index, value, count, base + t, ld, 1);
        t += 8;
    }
    out += t;
    base += t;
    width -= t;
#endif
    for (int k = 0; k < count; k++) {
        const float *p = base + (size_t)index[k] * ld;
        float a = value[k];
        for (int t = 0; t < width; t++)
            out[t] += a * p[t];
    }
}

#ifdef FM_X86_INTRINSICS
/* With AVX-512, 128 columns at a time: their sums fill 8 of its 32 registers, so each row's list
   of non-zeros is walked once per 128 columns instead of once per 64, with half the loop's
   overhead and branch misses. Same operations on each column, in the same order, as the 64-column
   code: the bits do not change. */
typedef float v16 __attribute__((vector_size(64), aligned(4)));

AVX512 static void weighted_sum_wide(float *out, const int32_t *index, const float *value,
                                     int count, const float *base, int ld)
{
    v16 *o = (v16 *)out;
    v16 s0 = o[0], s1 = o[1], s2 = o[2], s3 = o[3], s4 = o[4], s5 = o[5], s6 = o[6], s7 = o[7];
    // clang-format off
    for (int k = 0; k < count; k++) {
        const v16 *p = (const v16 *)(base + (size_t)index[k] * ld);
        float a = value[k];
        s0 += a * p[0]; s1 += a * p[1]; s2 += a * p[2]; s3 += a * p[3];
        s4 += a * p[4]; s5 += a * p[5]; s6 += a * p[6]; s7 += a * p[7];
    }
    o[0] = s0; o[1] = s1; o[2] = s2; o[3] = s3; o[4] = s4; o[5] = s5; o[6] = s6; o[7] = s7;
    // clang-format on
}

/* Columns a group's sums take at once: four rows of 64 fill 16 AVX-512 registers. */
#define GROUP_COLUMNS 64

AVX512 static void weighted_sum_group(float *out, int ld_out, const int32_t *index,
                                      const float *const *value, int count, const float *base,
                                      int ld)
{
    /* weighted_sum over GROUP_COLUMNS columns for the four rows of a group at once (out, rows
       ld_out apart), over the inputs non-zero in any of them: each row of W read once for four
       (digits share most of their non-zero inputs), at the price of multiplying it by the other
       rows' zeros. Adding an exact zero (0 * w, w finite) leaves a sum's bits as they were, so
       each row gets the same bits as on its own. */
    enum { G = FM_SPARSE_GROUP, V = GROUP_COLUMNS / 16 };
    v16 sum[G][V];
    for (int t = 0; t < G; t++)
        for (int c = 0; c < V; c++)
            sum[t][c] = ((v16 *)(out + (size_t)t * ld_out))[c];
    for (int k = 0; k < count; k++) {
        const v16 *p = (const v16 *)(base + (size_t)index[k] * ld);
        v16 w[V];
        for (int c = 0; c < V; c++)
            w[c] = p[c];
        for (int t = 0; t < G; t++) {
            float a = value[t][k];
            for (int c = 0; c < V; c++)
                sum[t][c] += a * w[c];
        }
    }
    for (int t = 0; t < G; t++)
        for (int c = 0; c < V; c++)
            ((v16 *)(out + (size_t)t * ld_out))[c] = sum[t][c];
}

AVX512 static void momentum_step_wide(float *w, float *v, const fm_sparse *parts, int n_parts,
                                      int j, const float *dz, int ldz, float lr, float mu, float c)
{
    /* momentum_step_64 over 128 columns */
    MOMENTUM_STEP(v16);
}

/* How many leading columns of width the AVX-512 code takes: whole passes of WIDE, or none. */
static int wide_columns(int width)
{
    return fm_cpu_has_avx512() ? width / WIDE * WIDE : 0;
}
#endif

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

FM_VECTORIZED
void fm_sparse_forward(float *out, int ld_out, const fm_sparse *rows, const float *W, int ld_w,
                       const float *b, int width, int activation)
{
    const fm_sparse copy = *rows, *x = &copy; /* no reloads, no sharing with its writer */
    /* out (n, width) = act(x W + b), summing for each row the rows of W of its non-zero inputs */
    for (int r = 0; r < x->n; r++)
        memset(out + (size_t)r * ld_out, 0, sizeof(float) * width);
    int wide = 0, groups = 0; /* columns taken WIDE at a time; groups of rows taken for them */
#ifdef FM_X86_INTRINSICS
    wide = wide_columns(width);
    groups = wide > 0 ? x->groups : 0;
    for (int g = 0; g < groups; g++) {
        int k0 = x->group_start[g], count = x->group_start[g + 1] - k0;
        const float *value[FM_SPARSE_GROUP];
        for (int t = 0; t < FM_SPARSE_GROUP; t++)
            value[t] = x->group_value[t] + k0;
        float *rows = out + (size_t)FM_SPARSE_GROUP * g * ld_out;
        for (int c = 0; c < wide; c += GROUP_COLUMNS)
            weighted_sum_group(rows + c, ld_out, x->group_index + k0, value, count, W + c, ld_w);
    }
#endif
    for (int r = 0; r < x->n; r++) {
        int k0 = x->row_start[r], count = x->row_start[r + 1] - k0;
        float *row = out + (size_t)r * ld_out;
        int c = r < FM_SPARSE_GROUP * groups ? wide : 0; /* the columns its group took */
#ifdef FM_X86_INTRINSICS
        for (; c < wide; c += WIDE)
            weighted_sum_wide(row + c, x->row_index + k0, x->row_value + k0, count, W + c, ld_w);
#endif
        for (; c < width; c += BLOCK)
            weighted_sum(row + c, x->row_index + k0, x->row_value + k0, count, W + c, ld_w,
                         min_int(BLOCK, width - c));
        fm_bias_act_forward(row, b, 1, width, activation);
    }
}

INLINE void update_block(float *w, float *v, const fm_sparse *parts, int n_parts, int j,
                         const float *dz, int ldz, int width, float lr, float mu, float c)
{
    /* g = x[:, j]^T dz[:, :width] over the parts' rows, in row order; then v = mu v + c w - lr g,
       w += v (or w -= lr g without a velocity) */
    float g[BLOCK] = {0.0f};
    for (int p = 0; p < n_parts; p++) {
        int k0 = parts[p].col_start[j], count = parts[p].col_start[j + 1] - k0;
        weighted_sum(g, parts[p].col_index + k0, parts[p].col_value + k0, count, dz, ldz, width);
    }
    if (v == NULL) {
        for (int t = 0; t < width; t++)
            w[t] -= lr * g[t];
        return;
    }
    for (int t = 0; t < width; t++) {
        float vt = mu * v[t] + c * w[t] - lr * g[t];
        v[t] = vt;
        w[t] += vt;
    }
}

#ifdef HAVE_VECTORS
INLINE void momentum_step_64(float *w, float *v, const fm_sparse *parts, int n_parts, int j,
                             const float *dz, int ldz, float lr, float mu, float c)
{
    /* update_block for a full block with a velocity, the gradient kept in registers from the
       first term to the step: same operations in the same order */
    MOMENTUM_STEP(v8);
}
#endif

INLINE void decay_row(float *w, float *v, int width, float mu, float c)
{
    for (int t = 0; t < width; t++) {
        float vt = mu * v[t] + c * w[t];
        v[t] = vt;
        w[t] += vt;
    }
}

static int has_input(const fm_sparse *parts, int n_parts, int j)
{
    for (int p = 0; p < n_parts; p++)
        if (parts[p].col_start[j + 1] > parts[p].col_start[j])
            return 1;
    return 0;
}

FM_VECTORIZED
void fm_sparse_update(float *W, float *vW, int ld_w, const fm_sparse *const *part_list, int n_parts,
                      const float *dz, int ld_dz, int row_begin, int row_end, int width, float lr,
                      float mu, float c)
{
    /* The weight gradient x^T dz for rows [row_begin, row_end) of W (., width), each summed only
       over the non-zeros of its input column, and applied at once: v = mu v + c w - lr g, w += v
       (a row without input: g = 0), or without velocity (vW NULL) w -= lr g, where rows without
       input stay as they are. */
    fm_sparse parts[FM_MAX_PARTS]; /* copies: no reloads, no sharing with their writer */
    n_parts = n_parts < FM_MAX_PARTS ? n_parts : FM_MAX_PARTS;
    for (int p = 0; p < n_parts; p++)
        parts[p] = *part_list[p];
#ifdef FM_X86_INTRINSICS
    int wide = vW != NULL ? wide_columns(width) : 0;
#endif
    for (int j = row_begin; j < row_end; j++) {
        size_t at = (size_t)j * ld_w;
        float *w = W + at, *v = vW != NULL ? vW + at : NULL;
        if (!has_input(parts, n_parts, j)) {
            if (v != NULL)
                decay_row(w, v, width, mu, c);
            continue;
        }
        int t = 0;
#ifdef FM_X86_INTRINSICS
        for (; t < wide; t += WIDE)
            momentum_step_wide(w + t, v + t, parts, n_parts, j, dz + t, ld_dz, lr, mu, c);
#endif
        for (; t < width; t += BLOCK) {
            float *vt = v != NULL ? v + t : NULL;
            // clang-format off
#ifdef HAVE_VECTORS
            if (width - t >= BLOCK && vt != NULL)
                momentum_step_64(w + t, vt, parts, n_parts, j, dz + t, ld_dz, lr, mu, c);
            else
#endif
            if (width - t >= BLOCK)  /* the width a constant: its own copy, fully unrolled */
                update_block(w + t, vt, parts, n_parts, j, dz + t, ld_dz, BLOCK, lr, mu, c);
            else
                update_block(w + t, vt, parts, n_parts, j, dz + t, ld_dz, width - t, lr, mu, c);
            // clang-format on
        }
    }
}

FM_VECTORIZED
void fm_sparse_gradient(float *gW, const fm_sparse *const *part_list, int n_parts, const float *dz,
                        int n_out, int row_begin, int row_end)
{
    /* gW rows [row_begin, row_end) overwritten with x^T dz, each row summed only over the
       non-zeros of its input column; zero for a column without any */
    fm_sparse parts[FM_MAX_PARTS];
    n_parts = n_parts < FM_MAX_PARTS ? n_parts : FM_MAX_PARTS;
    for (int p = 0; p < n_parts; p++)
        parts[p] = *part_list[p];
    for (int j = row_begin; j < row_end; j++) {
        float *g = gW + (size_t)j * n_out;
        memset(g, 0, sizeof(float) * n_out);
        if (!has_input(parts, n_parts, j))
            continue;
        for (int t = 0; t < n_out; t += BLOCK) {
            int width = n_out - t < BLOCK ? n_out - t : BLOCK;
            for (int p = 0; p < n_parts; p++) {
                int k0 = parts[p].col_start[j], count = parts[p].col_start[j + 1] - k0;
                weighted_sum(g + t, parts[p].col_index + k0, parts[p].col_value + k0, count, dz + t,
                             n_out, width);
            }
        }
    }
}
