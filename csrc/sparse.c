/* The first layer over inputs that are mostly zero (images), where most of such a network's
   work is: its forward product and its weight gradient become sums over the non-zero inputs
   only. Same terms as the dense GEMMs, with the zero ones left out.

   - fm_sparse_gather lists a minibatch's non-zeros by rows (for the forward pass) and by columns
     (for the weight gradient, one weight row per input); with AVX-512, also by groups of four
     rows.
   - fm_sparse_forward sums, for each row, the weight rows of its non-zero inputs, 64 columns at
     a time in registers (128 with AVX-512, or four rows at once where they are listed in groups).
   - fm_sparse_update sums each weight row's gradient over its input's non-zeros and steps it at
     once, the gradient still in registers.
   Both kernels are bound by the L2 cache: a weight row read per non-zero, and the whole first
   layer and its velocity streamed once a step.
   The training loop (split.c) also takes a ReLU's outputs as mostly-zero inputs of the layer
   after it, where the BLAS has no small-matrix kernels; there, fm_sparse_relu_backward gives
   that layer's backward product only where the ReLU's derivative is not zero. */
#include <string.h>

#include "cpu.h"
#include "fastmlp.h"

/* Output columns summed at once: 64 floats are 8 AVX registers of accumulators, which the
   compiler keeps in registers while the non-zero inputs stream past. */
#define BLOCK 64
/* ... and with AVX-512, 128 (see weighted_sum_wide) */
#define WIDE 128

/* Helpers of the FM_VECTORIZED kernels must be inlined into them to get their wide clones. */
#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

static size_t sparse_capacity(int n_in, int max_rows)
{
    return (size_t)max_rows * n_in;  /* room for every input: the gather never fails */
}

static size_t group_capacity(int n_in, int max_rows)
{
    return (size_t)(max_rows / FM_SPARSE_GROUP) * n_in;  /* every input of every group */
}

size_t fm_sparse_size(int n_in, int max_rows)
{
    return (size_t)max_rows + 1 + 3 * ((size_t)n_in + 1) + 4 * sparse_capacity(n_in, max_rows) +
           (size_t)(max_rows / FM_SPARSE_GROUP) + 1 +
           (1 + FM_SPARSE_GROUP) * group_capacity(n_in, max_rows);
}

void fm_sparse_init(fm_sparse *s, int32_t *buffer, int n_in, int max_rows, int width)
{
    size_t capacity = sparse_capacity(n_in, max_rows);
    s->n = s->nnz = s->first_row = 0;
    s->n_in = n_in;
    s->capacity = capacity;
    s->row_start = buffer;
    s->col_start = s->row_start + max_rows + 1;
    s->col_fill = s->col_start + n_in + 1;
    s->row_index = s->col_fill + n_in + 1;
    s->row_value = (float *)(s->row_index + capacity);
    s->col_index = (int32_t *)(s->row_value + capacity);
    s->col_value = (float *)(s->col_index + capacity);
    size_t in_groups = group_capacity(n_in, max_rows);
    s->columns = 1;
    s->grouped = fm_sparse_groups_pay(width);
    s->groups = 0;
    s->group_start = (int32_t *)(s->col_value + capacity);
    s->group_index = s->group_start + max_rows / FM_SPARSE_GROUP + 1;
    for (int t = 0; t < FM_SPARSE_GROUP; t++)
        s->group_value[t] = (float *)(s->group_index + in_groups) + t * in_groups;
}

static void index_columns(fm_sparse *s)
{
    /* a counting sort of the row-major non-zeros by column, whose counts the gather took in
       col_start[j + 1]; the running sum stays in a register (through memory, each element
       waited for the one before) */
    int n_in = s->n_in;
    int32_t sum = 0;
    for (int j = 1; j <= n_in; j++) {
        sum += s->col_start[j];
        s->col_start[j] = sum;
    }
    memcpy(s->col_fill, s->col_start, sizeof(int32_t) * n_in);
    for (int r = 0; r < s->n; r++)
        for (int k = s->row_start[r]; k < s->row_start[r + 1]; k++) {
            int at = s->col_fill[s->row_index[k]]++;
            s->col_index[at] = s->first_row + r;
            s->col_value[at] = s->row_value[k];
        }
}

/* Inputs looked at together: a run of zeros this long (an image's margins) is skipped at once. */
#define RUN 16

INLINE size_t compress_row(int32_t *index, float *value, int32_t *counts, const float *x, int n_in)
{
    /* index, value: the non-zero x[i] and their i; returns how many, and adds 1 to counts[i]
       for each. Branch-free within a run: every input is written, only the non-zero ones are
       kept. */
    size_t count = 0;
    for (int i0 = 0; i0 < n_in; i0 += RUN) {
        int end = i0 + RUN < n_in ? i0 + RUN : n_in;
        int any = 0;
        for (int i = i0; i < end; i++)
            any |= x[i] != 0.0f;
        if (!any)
            continue;
        for (int i = i0; i < end; i++) {
            float xi = x[i];
            index[count] = i;
            value[count] = xi;
            count += xi != 0.0f;
            counts[i] += xi != 0.0f;
        }
    }
    return count;
}

#ifdef FM_AVX2_INTRINSICS
/* For each 8-bit mask of the non-zero lanes of 8 inputs, the lanes to keep, first to last. */
static uint8_t keep_lanes[256][8];

__attribute__((constructor)) static void set_up_compress(void)
{
    for (int mask = 0; mask < 256; mask++) {
        int count = 0;
        for (int lane = 0; lane < 8; lane++)
            if (mask & (1 << lane))
                keep_lanes[mask][count++] = (uint8_t)lane;
        for (; count < 8; count++)
            keep_lanes[mask][count] = 0;
    }
}

__attribute__((target("avx2"))) static size_t compress_row_avx2(int32_t *index, float *value,
                                                                int32_t *counts, const float *x,
                                                                int n_in)
{
    /* compress_row, 8 inputs at a time: their non-zero lanes moved to the front (a permutation
       looked up by the mask) and all 8 lanes stored, of which the next ones overwrite the rest.
       Never past the row's room: count + 8 <= i + 8 <= n_in. NaN is non-zero, -0.0 is zero.
       No branch on an all-zero mask: which groups are empty changes from row to row, and the
       mispredictions cost more than the stores they spare. */
    size_t count = 0;
    int i = 0;
    for (; i + 8 <= n_in; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 nonzero = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ);
        int mask = _mm256_movemask_ps(nonzero);
        __m256i lanes = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)keep_lanes[mask]));
        _mm256_storeu_ps(value + count, _mm256_permutevar8x32_ps(v, lanes));
        _mm256_storeu_si256((__m256i *)(index + count), _mm256_add_epi32(lanes, _mm256_set1_epi32(i)));
        count += (size_t)__builtin_popcount((unsigned)mask);
        /* the lanes of nonzero are -1 where kept: subtracting counts them */
        __m256i seen = _mm256_loadu_si256((const __m256i *)(counts + i));
        _mm256_storeu_si256((__m256i *)(counts + i),
                            _mm256_sub_epi32(seen, _mm256_castps_si256(nonzero)));
    }
    for (; i < n_in; i++) {
        index[count] = i;
        value[count] = x[i];
        count += x[i] != 0.0f;
        counts[i] += x[i] != 0.0f;
    }
    return count;
}
#endif

/* The non-zero x[i] of a row into index, value, counted in counts[i]; returns how many. */
static size_t compress(int32_t *index, float *value, int32_t *counts, const float *x, int n_in)
{
#ifdef FM_AVX2_INTRINSICS
    if (fm_cpu_has_avx2())
        return compress_row_avx2(index, value, counts, x, n_in);
#endif
    return compress_row(index, value, counts, x, n_in);
}

#ifdef FM_AVX2_INTRINSICS
#define AVX512 __attribute__((target("avx512f")))

/* Inputs ahead of the one compressed that the gather fetches into the L1 cache. */
#define AHEAD 128

/* The lanes of a 16-lane mask below its count of set bits: where a compressed vector's values are. */
static inline __mmask16 first_lanes(int count)
{
    return (__mmask16)((1u << count) - 1u);
}

AVX512 static void compress_rows_and_group(fm_sparse *s, int r, size_t *nnz, size_t *in_groups,
                                           const float *const *x)
{
    /* Rows r .. r + 3 of s from x[0..3], their counts, and their group r / 4, in one pass over
       the four rows, 16 inputs at a time: AVX-512's compress moves the lanes kept to the front.
       Each row's list is the one compress gives; the group's holds the inputs non-zero in any of
       them, in order, with the four rows' values. Row r + t goes t n_in further on first, since
       its place depends on the rows before it, and is moved down at the end (s has room for
       every input of every row: nnz + 4 n_in <= (r + 4) n_in). */
    enum { G = FM_SPARSE_GROUP };
    int n_in = s->n_in;
    size_t at = *nnz, group_at = *in_groups, count[G] = {0}, in_group = 0;
    int32_t *index = s->row_index + at, *group_index = s->group_index + group_at;
    float *value = s->row_value + at;
    int32_t *counts = s->col_start + 1;
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i one = _mm512_set1_epi32(1);
    for (int i = 0; i < n_in; i += 16) {
        __mmask16 inside = first_lanes(n_in - i < 16 ? n_in - i : 16), any = 0, kept[G];
        __m512 row[G];
        __m512i where = _mm512_add_epi32(lanes, _mm512_set1_epi32(i));
        __m512i seen = _mm512_maskz_loadu_epi32(inside, counts + i);
        for (int t = 0; t < G; t++) {
            /* into the L1 cache 8 lines ahead: the rows wait in the L2 (fm_sparse_prefetch),
               whose latency the gather would otherwise wait on; past the row's end it fetches
               a line that nobody reads, and never faults */
            _mm_prefetch((const char *)(x[t] + i + AHEAD), _MM_HINT_T0);
            row[t] = _mm512_maskz_loadu_ps(inside, x[t] + i);
            /* NaN is non-zero, -0.0 is zero */
            kept[t] = _mm512_mask_cmp_ps_mask(inside, row[t], _mm512_setzero_ps(), _CMP_NEQ_UQ);
            any |= kept[t];
            int n = __builtin_popcount(kept[t]);
            size_t to = (size_t)t * n_in + count[t];
            _mm512_mask_storeu_ps(value + to, first_lanes(n), _mm512_maskz_compress_ps(kept[t], row[t]));
            _mm512_mask_storeu_epi32(index + to, first_lanes(n),
                                     _mm512_maskz_compress_epi32(kept[t], where));
            seen = _mm512_mask_add_epi32(seen, kept[t], seen, one);
            count[t] += (size_t)n;
        }
        _mm512_mask_storeu_epi32(counts + i, inside, seen);
        int n = __builtin_popcount(any);
        for (int t = 0; t < G; t++)
            _mm512_mask_storeu_ps(s->group_value[t] + group_at + in_group, first_lanes(n),
                                  _mm512_maskz_compress_ps(any, row[t]));
        _mm512_mask_storeu_epi32(group_index + in_group, first_lanes(n),
                                 _mm512_maskz_compress_epi32(any, where));
        in_group += (size_t)n;
    }
    size_t place = at;
    for (int t = 0; t < G; t++) {
        s->row_start[r + t] = (int32_t)place;
        memmove(s->row_value + place, value + (size_t)t * n_in, sizeof(float) * count[t]);
        memmove(s->row_index + place, index + (size_t)t * n_in, sizeof(int32_t) * count[t]);
        place += count[t];
    }
    s->group_start[r / G] = (int32_t)group_at;
    *nnz = place;
    *in_groups = group_at + in_group;
}
#endif

/* Whether the forward pass over width columns takes rows in groups, so that the gather should
   list the groups' inputs: with AVX-512 only (four rows' sums over 64 columns fill 16 of its 32
   registers), for the columns it takes 128 at a time. */
int fm_sparse_groups_pay(int width)
{
#ifdef FM_AVX2_INTRINSICS
    return fm_cpu_has_avx512() && width >= WIDE;
#else
    (void)width;
    return 0;
#endif
}

static int64_t source_row(const int64_t *rows, int64_t start, int r)
{
    return rows != NULL ? rows[r] : start + r;
}

static void prefetch_row(const float *x, int n_in)
{
#if defined(__GNUC__)
    /* one 64-byte line at a time, into the L2 cache (prefetcht1): a row is 49 lines on MNIST,
       more than the L1's queue of misses holds, and prefetches to L1 stall on it */
    for (int i = 0; i < n_in; i += 16)
        __builtin_prefetch(x + i, 0, 2);
#else
    (void)x;
    (void)n_in;
#endif
}

void fm_sparse_prefetch(const float *X, const int64_t *rows, int64_t start, int n, int n_in)
{
    for (int r = 0; r < n; r++)
        prefetch_row(X + (size_t)source_row(rows, start, r) * n_in, n_in);
}

FM_VECTORIZED
void fm_sparse_gather(fm_sparse *s, int32_t *labels, const float *X, const int32_t *y,
                      const int64_t *rows, int64_t start, int n, int first_row)
{
    int n_in = s->n_in;
    size_t nnz = 0, in_groups = 0;
    int groups = s->grouped ? n / FM_SPARSE_GROUP : 0;  /* fm_sparse_groups_pay: only with AVX-512 */
    memset(s->col_start, 0, sizeof(int32_t) * (n_in + 1));  /* counts in col_start[j + 1] */
    for (int r = 0; r < n;) {
        int take = r / FM_SPARSE_GROUP < groups ? FM_SPARSE_GROUP : 1;  /* rows, as a group or one */
        for (int ahead = r + take; ahead < r + 2 * take && ahead < n; ahead++)
            prefetch_row(X + (size_t)source_row(rows, start, ahead) * n_in, n_in);
        const float *x[FM_SPARSE_GROUP];
        for (int t = 0; t < take; t++)
            x[t] = X + (size_t)source_row(rows, start, r + t) * n_in;
#ifdef FM_AVX2_INTRINSICS
        if (take == FM_SPARSE_GROUP)
            compress_rows_and_group(s, r, &nnz, &in_groups, x);
#endif
        if (take == 1) {
            s->row_start[r] = (int32_t)nnz;
            nnz += compress(s->row_index + nnz, s->row_value + nnz, s->col_start + 1, x[0], n_in);
        }
        for (int t = r; t < r + take && y != NULL; t++)
            labels[t] = y[source_row(rows, start, t)];
        r += take;
    }
    s->groups = groups;
    s->group_start[groups] = (int32_t)in_groups;
    s->row_start[n] = (int32_t)nnz;
    s->n = n;
    s->nnz = (int)nnz;
    s->first_row = first_row;
    if (s->columns)
        index_columns(s);
}

#if defined(__GNUC__)
/* 8 floats; aligned(4) so that loads through it may be unaligned. The compiler lowers it to one
   AVX register, or two SSE ones in the default clone. */
typedef float v8 __attribute__((vector_size(32), aligned(4)));

/* The body of momentum_step_64 and momentum_step_wide, 8 vectors of type vec: the gradient of
   weight row j over the parts' non-zeros in its column, kept in registers, then the step
   v = mu v + c w - lr g, w += v. One text for both, so their bits cannot part. */
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

#ifdef FM_AVX2_INTRINSICS
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
    for (int k = 0; k < count; k++) {
        const v16 *p = (const v16 *)(base + (size_t)index[k] * ld);
        float a = value[k];
        s0 += a * p[0]; s1 += a * p[1]; s2 += a * p[2]; s3 += a * p[3];
        s4 += a * p[4]; s5 += a * p[5]; s6 += a * p[6]; s7 += a * p[7];
    }
    o[0] = s0; o[1] = s1; o[2] = s2; o[3] = s3; o[4] = s4; o[5] = s5; o[6] = s6; o[7] = s7;
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
    const fm_sparse copy = *rows, *x = &copy;  /* no reloads, no sharing with its writer */
    /* out (n, width) = act(x W + b), summing for each row the rows of W of its non-zero inputs */
    for (int r = 0; r < x->n; r++)
        memset(out + (size_t)r * ld_out, 0, sizeof(float) * width);
    int wide = 0, groups = 0;  /* columns taken WIDE at a time; groups of rows taken for them */
#ifdef FM_AVX2_INTRINSICS
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
        int c = r < FM_SPARSE_GROUP * groups ? wide : 0;  /* the columns its group took */
#ifdef FM_AVX2_INTRINSICS
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
void fm_sparse_update(float *W, float *vW, int ld_w, const fm_sparse *const *part_list,
                      int n_parts, const float *dz, int ld_dz, int row_begin, int row_end,
                      int width, float lr, float mu, float c)
{
    /* The weight gradient x^T dz for rows [row_begin, row_end) of W (., width), each summed only
       over the non-zeros of its input column, and applied at once: v = mu v + c w - lr g, w += v
       (a row without input: g = 0), or without velocity (vW NULL) w -= lr g, where rows without
       input stay as they are. */
    fm_sparse parts[FM_SPARSE_MAX_PARTS];  /* copies: no reloads, no sharing with their writer */
    n_parts = n_parts < FM_SPARSE_MAX_PARTS ? n_parts : FM_SPARSE_MAX_PARTS;
    for (int p = 0; p < n_parts; p++)
        parts[p] = *part_list[p];
#ifdef FM_AVX2_INTRINSICS
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
#ifdef FM_AVX2_INTRINSICS
        for (; t < wide; t += WIDE)
            momentum_step_wide(w + t, v + t, parts, n_parts, j, dz + t, ld_dz, lr, mu, c);
#endif
        for (; t < width; t += BLOCK) {
            float *vt = v != NULL ? v + t : NULL;
#ifdef HAVE_VECTORS
            if (width - t >= BLOCK && vt != NULL)
                momentum_step_64(w + t, vt, parts, n_parts, j, dz + t, ld_dz, lr, mu, c);
            else
#endif
            if (width - t >= BLOCK)  /* the width a constant: its own copy, fully unrolled */
                update_block(w + t, vt, parts, n_parts, j, dz + t, ld_dz, BLOCK, lr, mu, c);
            else
                update_block(w + t, vt, parts, n_parts, j, dz + t, ld_dz, width - t, lr, mu, c);
        }
    }
}

FM_VECTORIZED
void fm_sparse_gradient(float *gW, const fm_sparse *const *part_list, int n_parts, const float *dz,
                        int n_out, int row_begin, int row_end)
{
    /* gW rows [row_begin, row_end) overwritten with x^T dz, each row summed only over the
       non-zeros of its input column; zero for a column without any */
    fm_sparse parts[FM_SPARSE_MAX_PARTS];
    n_parts = n_parts < FM_SPARSE_MAX_PARTS ? n_parts : FM_SPARSE_MAX_PARTS;
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

static void relu_backward_row(float *out, const fm_sparse *x, int r, const float *g,
                              const float *W, int ld_w, int n_out)
{
    for (int k = x->row_start[r]; k < x->row_start[r + 1]; k++)
        if (x->row_value[k] > 0.0f)  /* not a NaN, which relu' takes as 0 */
            out[x->row_index[k]] = fm_dot(g, W + (size_t)x->row_index[k] * ld_w, n_out);
}

#ifdef FM_AVX2_INTRINSICS
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
    return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
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
            if (!(x->col_value[k] > 0.0f))  /* not a NaN, which relu' takes as 0 */
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
#ifdef FM_AVX2_INTRINSICS
    if (fm_cpu_has_avx512() && n_out % 16 == 0 && x->columns) {
        relu_backward_avx512(dx, ld_dx, x, dz, ld_dz, W, ld_w, n_out);
        return;
    }
#endif
    for (int r = 0; r < x->n; r++)
        relu_backward_row(dx + (size_t)r * ld_dx, x, r, dz + (size_t)r * ld_dz, W, ld_w, n_out);
}
