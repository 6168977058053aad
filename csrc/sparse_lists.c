/* A minibatch's rows listed as their non-zero inputs (fm_sparse), for the sparse kernels
   (sparse.c): fm_sparse_layout measures and carves a list's buffer, and fm_sparse_gather lists
   the rows by rows (for the forward pass) and by columns (for the weight gradient, one weight
   row per input); with AVX-512, also by groups of four rows, which the forward pass takes at
   once. The rows come from anywhere in X, shuffled: fm_prefetch_rows fetches them ahead. */
#include <string.h>

#include "fastmlp.h"
#include "simd.h"

static size_t sparse_capacity(int n_in, int max_rows)
{
    return (size_t)max_rows * n_in; /* room for every input: the gather never fails */
}

static size_t group_capacity(int n_in, int max_rows)
{
    return (size_t)(max_rows / FM_SPARSE_GROUP) * n_in; /* every input of every group */
}

/* count int32 slots of the buffer from *used on (NULL when only measuring) */
static int32_t *take_slots(int32_t *buffer, size_t *used, size_t count)
{
    int32_t *slots = buffer != NULL ? buffer + *used : NULL;
    *used += count;
    return slots;
}

size_t fm_sparse_layout(fm_sparse *s, int32_t *buffer, int n_in, int max_rows, int width)
{
    size_t capacity = sparse_capacity(n_in, max_rows), in_groups = group_capacity(n_in, max_rows);
    size_t used = 0;
    int32_t *row_start = take_slots(buffer, &used, (size_t)max_rows + 1);
    int32_t *col_start = take_slots(buffer, &used, (size_t)n_in + 1);
    int32_t *col_fill = take_slots(buffer, &used, (size_t)n_in + 1);
    int32_t *row_index = take_slots(buffer, &used, capacity);
    int32_t *row_value = take_slots(buffer, &used, capacity);
    int32_t *col_index = take_slots(buffer, &used, capacity);
    int32_t *col_value = take_slots(buffer, &used, capacity);
    int32_t *group_start = take_slots(buffer, &used, (size_t)(max_rows / FM_SPARSE_GROUP) + 1);
    int32_t *group_index = take_slots(buffer, &used, in_groups);
    int32_t *group_value = take_slots(buffer, &used, FM_SPARSE_GROUP * in_groups);
    if (buffer == NULL)
        return used;
    s->n = s->nnz = s->first_row = 0;
    s->n_in = n_in;
    s->capacity = capacity;
    s->row_start = row_start;
    s->col_start = col_start;
    s->col_fill = col_fill;
    s->row_index = row_index;
    s->row_value = (float *)row_value;
    s->col_index = col_index;
    s->col_value = (float *)col_value;
    s->columns = 1;
    s->grouped = fm_sparse_groups_pay(width);
    s->groups = 0;
    s->group_start = group_start;
    s->group_index = group_index;
    for (int t = 0; t < FM_SPARSE_GROUP; t++)
        s->group_value[t] = (float *)group_value + t * in_groups;
    return used;
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

#ifdef FM_X86_INTRINSICS
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

__attribute__((target("avx2"))) static size_t
compress_row_avx2(int32_t *index, float *value, int32_t *counts, const float *x, int n_in)
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
        _mm256_storeu_si256((__m256i *)(index + count),
                            _mm256_add_epi32(lanes, _mm256_set1_epi32(i)));
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
#ifdef FM_X86_INTRINSICS
    if (fm_cpu_has_avx2())
        return compress_row_avx2(index, value, counts, x, n_in);
#endif
    return compress_row(index, value, counts, x, n_in);
}

#ifdef FM_X86_INTRINSICS
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
            /* into the L1 cache 8 lines ahead: the rows wait in the L2 (fm_prefetch_rows),
               whose latency the gather would otherwise wait on; past the row's end it fetches
               a line that nobody reads, and never faults */
            _mm_prefetch((const char *)(x[t] + i + AHEAD), _MM_HINT_T0);
            row[t] = _mm512_maskz_loadu_ps(inside, x[t] + i);
            /* NaN is non-zero, -0.0 is zero */
            kept[t] = _mm512_mask_cmp_ps_mask(inside, row[t], _mm512_setzero_ps(), _CMP_NEQ_UQ);
            any |= kept[t];
            int n = __builtin_popcount(kept[t]);
            size_t to = (size_t)t * n_in + count[t];
            _mm512_mask_storeu_ps(value + to, first_lanes(n),
                                  _mm512_maskz_compress_ps(kept[t], row[t]));
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

void fm_prefetch_rows(const float *X, const int64_t *rows, int64_t start, int n, int n_in)
{
    for (int r = 0; r < n; r++)
        prefetch_row(X + (size_t)source_row(rows, start, r) * n_in, n_in);
}

FM_VECTORIZED
void fm_sparse_gather(fm_sparse *s, int32_t *labels, int target_words, const float *X,
                      const int32_t *y, const int64_t *rows, int64_t start, int n, int first_row)
{
    int n_in = s->n_in;
    size_t nnz = 0, in_groups = 0;
    int groups = s->grouped ? n / FM_SPARSE_GROUP : 0; /* fm_sparse_groups_pay: only with AVX-512 */
    memset(s->col_start, 0, sizeof(int32_t) * (n_in + 1)); /* counts in col_start[j + 1] */
    for (int r = 0; r < n;) {
        int take = r / FM_SPARSE_GROUP < groups ? FM_SPARSE_GROUP : 1; /* rows, as a group or one */
        for (int ahead = r + take; ahead < r + 2 * take && ahead < n; ahead++)
            prefetch_row(X + (size_t)source_row(rows, start, ahead) * n_in, n_in);
        const float *x[FM_SPARSE_GROUP];
        for (int t = 0; t < take; t++)
            x[t] = X + (size_t)source_row(rows, start, r + t) * n_in;
#ifdef FM_X86_INTRINSICS
        if (take == FM_SPARSE_GROUP)
            compress_rows_and_group(s, r, &nnz, &in_groups, x);
#endif
        if (take == 1) {
            s->row_start[r] = (int32_t)nnz;
            nnz += compress(s->row_index + nnz, s->row_value + nnz, s->col_start + 1, x[0], n_in);
        }
        for (int t = r; t < r + take && y != NULL; t++)
            memcpy(labels + (size_t)t * target_words,
                   y + (size_t)source_row(rows, start, t) * target_words,
                   sizeof(int32_t) * target_words);
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
