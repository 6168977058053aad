/* Products of our own for the parts of a step (the plan's blas "tiles"): C = A B over operands
   read in place or packed in panels once (fm_operands), 6 x 16 tiles of C in registers, and what
   happens to each tile before it is stored (fm_tile_out) done while it is still in registers: the
   bias and the activation of a forward pass, or the SGD step of the weights the product is the
   gradient of.

   Each element of C is one chain of fused multiply-adds over k in order, and its finish the
   same operations in the same order wherever it runs: so the result does not depend on how the
   rows or columns are cut (parts, threads), and the AVX2 tiles give the bits of the portable
   loop. On the shapes of a minibatch's parts, packing at every call cost the BLAS libraries more
   than it saved them (benchmarks/README.md). */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "fastmlp.h"

#define TILE_ROWS FM_TILE_ROWS
#define TILE_COLS FM_TILE_COLS

/* The finish of element (i, j) of C, whose product is acc and current value *c (in C or in its
   panels: fm_tile_out): the one definition of what each kind does, which the AVX2 tiles repeat
   lane by lane. */
static inline float finish(const fm_tile_out *out, size_t at, int j, float acc, const float *c)
{
    switch (out->kind) {
    case FM_TILE_BIAS_ACT: {
        float z = acc + out->bias[j];
        if (out->activation == FM_RELU)
            return z > 0.0f ? z : 0.0f;
        if (out->activation == FM_LEAKY_RELU)
            return z > 0.0f ? z : FM_LEAKY_SLOPE * z;
        return z;
    }
    case FM_TILE_VELOCITY: { /* v = mu v + decay w + alpha g; w += v */
        float w = *c;
        float v = fmaf(out->mu, out->v[at], fmaf(out->decay, w, out->alpha * acc));
        out->v[at] = v;
        return w + v;
    }
    default: /* FM_TILE_SCALE: alpha acc + beta C, C not read when beta is 0 */
        return out->beta == 0.0f ? out->alpha * acc : fmaf(out->alpha, acc, out->beta * *c);
    }
}

static void tiles_portable(int m, int n, int k, const fm_operands *op, const fm_tile_out *out)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int p = 0; p < k; p++)
                acc = fmaf(op->a[i / TILE_ROWS * op->aps + i % TILE_ROWS * op->rsa + p * op->csa],
                           op->b[j / TILE_COLS * op->bps + p * op->ldb + j % TILE_COLS], acc);
            size_t at = (size_t)i * out->ldc + j;
            float *packed =
                out->packed != NULL ? out->packed + fm_packed_at(out->packed_panel, i, j) : NULL;
            float *c = out->c != NULL ? out->c + at : packed;
            float value = finish(out, at, j, acc, c);
            if (out->c != NULL)
                out->c[at] = value;
            if (packed != NULL)
                *packed = value;
        }
}

#ifdef FM_X86_INTRINSICS
#define AVX2_FMA __attribute__((target("avx2,fma")))

/* finish() on 8 lanes, for whole tiles, of out's kind (a constant where the caller knows it) */
AVX2_FMA static inline __attribute__((always_inline)) __m256 finish8(const fm_tile_out *out,
                                                                     int kind, size_t at, int j,
                                                                     __m256 acc, const float *c)
{
    switch (kind) {
    case FM_TILE_BIAS_ACT: {
        __m256 z = _mm256_add_ps(acc, _mm256_loadu_ps(out->bias + j));
        if (out->activation == FM_RELU) /* z > 0 ? z : 0: a NaN becomes 0, as in finish() */
            return _mm256_blendv_ps(_mm256_setzero_ps(), z,
                                    _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ));
        if (out->activation == FM_LEAKY_RELU)
            return _mm256_blendv_ps(_mm256_mul_ps(_mm256_set1_ps(FM_LEAKY_SLOPE), z), z,
                                    _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ));
        return z;
    }
    case FM_TILE_VELOCITY: {
        __m256 w = _mm256_loadu_ps(c);
        __m256 g = _mm256_mul_ps(_mm256_set1_ps(out->alpha), acc);
        __m256 v = _mm256_fmadd_ps(_mm256_set1_ps(out->mu), _mm256_loadu_ps(out->v + at),
                                   _mm256_fmadd_ps(_mm256_set1_ps(out->decay), w, g));
        _mm256_storeu_ps(out->v + at, v);
        return _mm256_add_ps(w, v);
    }
    default:
        if (out->beta == 0.0f)
            return _mm256_mul_ps(_mm256_set1_ps(out->alpha), acc);
        return _mm256_fmadd_ps(_mm256_set1_ps(out->alpha), acc,
                               _mm256_mul_ps(_mm256_set1_ps(out->beta), _mm256_loadu_ps(c)));
    }
}

/* Row r of a tile, finished and stored (and packed, where asked): whole, or lane by lane in a
   panel narrower than 16. */
AVX2_FMA static inline __attribute__((always_inline)) void
store_row(const fm_tile_out *out, int kind, int row, int j, int width, __m256 acc0, __m256 acc1)
{
    size_t at = (size_t)row * out->ldc + j;
    float *packed =
        out->packed != NULL ? out->packed + fm_packed_at(out->packed_panel, row, j) : NULL;
    float *c = out->c != NULL ? out->c + at : packed;
    if (width == TILE_COLS) {
        __m256 c0 = finish8(out, kind, at, j, acc0, c);
        __m256 c1 = finish8(out, kind, at + 8, j + 8, acc1, c + 8);
        if (out->c != NULL) {
            _mm256_storeu_ps(out->c + at, c0);
            _mm256_storeu_ps(out->c + at + 8, c1);
        }
        if (packed != NULL && out->stream && ((uintptr_t)packed & 31) == 0) {
            _mm256_stream_ps(packed, c0); /* no read of the line first */
            _mm256_stream_ps(packed + 8, c1);
        } else if (packed != NULL) {
            _mm256_storeu_ps(packed, c0);
            _mm256_storeu_ps(packed + 8, c1);
        }
        return;
    }
    float sums[TILE_COLS];
    _mm256_storeu_ps(sums, acc0);
    _mm256_storeu_ps(sums + 8, acc1);
    for (int col = 0; col < width; col++) {
        float value = finish(out, at + col, j + col, sums[col], c + col);
        if (out->c != NULL)
            out->c[at + col] = value;
        if (packed != NULL)
            packed[col] = value;
    }
}

/* A pass of a tile over k in [k0, k0 + depth): from zero where first, else from the sums the pass
   before left in C (exact: the chain of multiply-adds is the same); finished where last, else
   its sums left in C for the next. */
typedef struct {
    int k0, depth, first, last;
} pass;

/* Twelve named accumulators, not an array: GCC kept an array's copy on the stack up to date at
   every step of k. A row r >= mr folds away where mr is a constant. */
// clang-format off
#define TILE_STEP(r) if (mr > r) { __m256 x = _mm256_broadcast_ss(a + r * op->rsa); \
    c##r##0 = _mm256_fmadd_ps(x, b0, c##r##0); c##r##1 = _mm256_fmadd_ps(x, b1, c##r##1); }
#define TILE_STEPS TILE_STEP(0) TILE_STEP(1) TILE_STEP(2) TILE_STEP(3) TILE_STEP(4) TILE_STEP(5)
#define TILE_LOAD(r) if (mr > r) { float *row = out->c + (size_t)(i + r) * out->ldc + j; \
    c##r##0 = _mm256_maskload_ps(row, mask0); c##r##1 = _mm256_maskload_ps(row + 8, mask1); }
#define TILE_SAVE(r) if (mr > r) { float *row = out->c + (size_t)(i + r) * out->ldc + j; \
    _mm256_maskstore_ps(row, mask0, c##r##0); _mm256_maskstore_ps(row + 8, mask1, c##r##1); }
#define TILE_STORE(r) if (mr > r) store_row(out, kind, i + r, j, width, c##r##0, c##r##1);
#define TILE_STORES TILE_STORE(0) TILE_STORE(1) TILE_STORE(2) TILE_STORE(3) TILE_STORE(4) \
    TILE_STORE(5)
// clang-format on

/* One pass of a tile: rows [i, i + mr) and columns [j, j + width) of C, from B's panel at b
   (rows ldb apart, from row k0); mr a constant where inlined. The last column panel, narrower
   than 16, is read and written through masks. */
AVX2_FMA static inline __attribute__((always_inline)) void tile(int mr, int width, int i, int j,
                                                                const fm_operands *op, pass ps,
                                                                const float *b, int64_t ldb,
                                                                const fm_tile_out *out)
{
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(width), lane);
    __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(width - 8), lane);
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
    if (!ps.first) {
        TILE_LOAD(0) TILE_LOAD(1) TILE_LOAD(2) TILE_LOAD(3) TILE_LOAD(4) TILE_LOAD(5)
    }
    const float *a = op->a + i / TILE_ROWS * op->aps + i % TILE_ROWS * op->rsa + ps.k0 * op->csa;
    if (width == TILE_COLS) {
        for (int p = 0; p < ps.depth; p++, a += op->csa, b += ldb) {
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            TILE_STEPS
        }
    } else {
        for (int p = 0; p < ps.depth; p++, a += op->csa, b += ldb) {
            __m256 b0 = _mm256_maskload_ps(b, mask0), b1 = _mm256_maskload_ps(b + 8, mask1);
            TILE_STEPS
        }
    }
    int kind = out->kind;
    if (!ps.last) {
        TILE_SAVE(0) TILE_SAVE(1) TILE_SAVE(2) TILE_SAVE(3) TILE_SAVE(4) TILE_SAVE(5) return;
    }
    TILE_STORES
}

/* k per pass where B is read in place and C may hold the sums between passes (its finish does not
   read it): a 16-column panel of B that deep (16 KB, or its copy) stays in L1 while every row tile
   passes it; deeper, rows of B in a few cache sets were read from L2 at every tile. Packed in
   panels, B's rows are contiguous: there a tile runs over all of k in one pass, as saving and
   loading its sums between passes cost more than reading a deep panel from L2. */
#define TILE_DEPTH 256

/* The SGD step with velocity on the whole tile of mr rows (a constant where inlined) at (i, j),
   over k in one pass, finished by store_row() with the kind a constant. A loop of its own: in
   tile(), which also serves narrow panels, passes and any kind, the compiler kept less of the
   step in registers and the update ran slower. */
AVX2_FMA static inline __attribute__((always_inline)) void
velocity_tile(int mr, int i, int j, const fm_operands *op, const float *a, const float *b, int k,
              const fm_tile_out *out)
{
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
    for (int p = 0; p < k; p++, a += op->csa, b += op->ldb) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        TILE_STEPS
    }
    int width = TILE_COLS, kind = FM_TILE_VELOCITY;
    TILE_STORES
}

/* The rows of the tile at the rest rows of C left from it: 6, but where A's rows lie evenly
   apart (not in packed panels, which a tile may not straddle) the last 7 to 10 rows as two
   tiles of 4 or 5, since a tile of 1 to 3 rows keeps too few sums in flight to hide the
   multiply-adds' latency (32 rows as 6 x 5 + 2 ran at 85% of the FMA peak, as 6 x 4 + 4 + 4 at
   88%). Only which tile makes a row changes: each element's chain stays the same. */
static inline int tile_rows(const fm_operands *op, int rest)
{
    int even = op->aps == TILE_ROWS * op->rsa;
    if (even && rest >= TILE_ROWS + 1 && rest <= TILE_ROWS + 4)
        return rest / 2;
    return rest < TILE_ROWS ? rest : TILE_ROWS;
}

/* One tile at (i, j) over B's panel at b, its row count a constant in each call of tile(). */
AVX2_FMA static inline __attribute__((always_inline)) void tile_at(int m, int n, int i, int j,
                                                                   const fm_operands *op, pass ps,
                                                                   const float *b, int64_t ldb,
                                                                   const fm_tile_out *out)
{
    int width = n - j < TILE_COLS ? n - j : TILE_COLS;
    switch (tile_rows(op, m - i)) {
        // clang-format off
    case 6: tile(6, width, i, j, op, ps, b, ldb, out); break;
    case 5: tile(5, width, i, j, op, ps, b, ldb, out); break;
    case 4: tile(4, width, i, j, op, ps, b, ldb, out); break;
    case 3: tile(3, width, i, j, op, ps, b, ldb, out); break;
    case 2: tile(2, width, i, j, op, ps, b, ldb, out); break;
    default: tile(1, width, i, j, op, ps, b, ldb, out); break;
        // clang-format on
    }
}

/* B's panel of columns from j, rows from k0, as the tiles read it */
static const float *panel_at(const fm_operands *op, int j, int k0)
{
    return op->b + j / TILE_COLS * op->bps + (int64_t)k0 * op->ldb;
}

/* A panel of B read in place is copied first where its rows are a multiple of this many bytes
   apart, so fall in one or two of L1's 64 sets (4 KB a way) and each row tile would read the
   panel from L2; and where at least this many rows of C share the copy. */
#define ROWS_IN_FEW_SETS 2048
#define COPIED_PANEL_MIN_ROWS 48

/* Every row tile of C's column panel at j, over B's panel copied to `copy` where worth it. */
AVX2_FMA static void column_panel(int m, int n, int j, const fm_operands *op, pass ps, float *copy,
                                  const fm_tile_out *out)
{
    const float *b = panel_at(op, j, ps.k0);
    int64_t ldb = op->ldb;
    if (ldb != TILE_COLS && m >= COPIED_PANEL_MIN_ROWS &&
        ldb * sizeof(float) % ROWS_IN_FEW_SETS == 0) {
        int width = n - j < TILE_COLS ? n - j : TILE_COLS;
        for (int p = 0; p < ps.depth; p++) /* a constant size where whole: moved inline */
            if (width == TILE_COLS)
                memcpy(copy + p * TILE_COLS, b + p * ldb, sizeof(float) * TILE_COLS);
            else
                memcpy(copy + p * TILE_COLS, b + p * ldb, sizeof(float) * width);
        b = copy;
        ldb = TILE_COLS;
    }
    for (int i = 0; i < m; i += tile_rows(op, m - i))
        tile_at(m, n, i, j, op, ps, b, ldb, out);
}

/* Every tile of C along its rows, where the finish reads C: the weights (and velocity) a step
   reads and writes stream through once, a panel of 16 columns a tile. */
AVX2_FMA static void along_rows(int m, int n, const fm_operands *operands, pass ps,
                                const fm_tile_out *finish_as)
{
    /* copies of our own: the compiler need not load them again after each store of a tile */
    const fm_operands op_copy = *operands, *op = &op_copy;
    const fm_tile_out out_copy = *finish_as, *out = &out_copy;
    for (int i = 0; i < m; i += tile_rows(op, m - i))
        for (int j = 0; j < n; j += TILE_COLS)
            tile_at(m, n, i, j, op, ps, panel_at(op, j, ps.k0), op->ldb, out);
}

/* ... the same for the SGD step with velocity (one pass over k), its whole tiles by
   velocity_tile() */
AVX2_FMA static void velocity_along_rows(int m, int n, const fm_operands *operands, pass ps,
                                         const fm_tile_out *finish_as)
{
    const fm_operands op_copy = *operands, *op = &op_copy;
    const fm_tile_out out_copy = *finish_as, *out = &out_copy;
    for (int i = 0; i < m; i += tile_rows(op, m - i)) {
        const float *a = op->a + i / TILE_ROWS * op->aps + i % TILE_ROWS * op->rsa;
        for (int j = 0; j < n; j += TILE_COLS) {
            const float *b = panel_at(op, j, 0);
            if (n - j < TILE_COLS) { /* a narrow last panel: through tile()'s masks */
                tile_at(m, n, i, j, op, ps, b, op->ldb, out);
                continue;
            }
            switch (tile_rows(op, m - i)) {
                // clang-format off
            case 6: velocity_tile(6, i, j, op, a, b, ps.depth, out); break;
            case 5: velocity_tile(5, i, j, op, a, b, ps.depth, out); break;
            case 4: velocity_tile(4, i, j, op, a, b, ps.depth, out); break;
            case 3: velocity_tile(3, i, j, op, a, b, ps.depth, out); break;
            case 2: velocity_tile(2, i, j, op, a, b, ps.depth, out); break;
            default: velocity_tile(1, i, j, op, a, b, ps.depth, out); break;
                // clang-format on
            }
        }
    }
}

AVX2_FMA static void tiles_avx2(int m, int n, int k, const fm_operands *op, const fm_tile_out *out)
{
    int reads_c = out->c == NULL || out->kind == FM_TILE_VELOCITY ||
                  (out->kind == FM_TILE_SCALE && out->beta != 0.0f);
    int depth = reads_c || k <= TILE_DEPTH || op->ldb == TILE_COLS ? k : TILE_DEPTH;
    float copy[TILE_DEPTH * TILE_COLS] __attribute__((aligned(64)));
    int k0 = 0;
    do {
        pass ps = {k0, k - k0 < depth ? k - k0 : depth, k0 == 0, k - k0 <= depth};
        if (reads_c && out->kind == FM_TILE_VELOCITY)
            velocity_along_rows(m, n, op, ps, out);
        else if (reads_c)
            along_rows(m, n, op, ps, out);
        else /* a column panel of B stays in cache while every row tile passes it */
            for (int j = 0; j < n; j += TILE_COLS)
                column_panel(m, n, j, op, ps, copy, out);
        k0 += ps.depth;
    } while (k0 < k);
    if (out->stream) /* streaming stores are weakly ordered: seen by all before the call returns */
        _mm_sfence();
}
#endif

int fm_tiles_fast(void)
{
#ifdef FM_X86_INTRINSICS
    return fm_cpu_has_avx2() && fm_cpu_has_fma();
#else
    return 0;
#endif
}

fm_operands fm_row_major(const float *A, int lda, int trans_a, const float *B, int ldb)
{
    int64_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    fm_operands op = {A, rsa, csa, TILE_ROWS * rsa, B, ldb, TILE_COLS};
    return op;
}

fm_operands fm_packed_b(fm_operands op, const float *packed, int panel_rows)
{
    op.b = packed;
    op.ldb = TILE_COLS;
    op.bps = (int64_t)TILE_COLS * panel_rows;
    return op;
}

fm_operands fm_packed_a(fm_operands op, const float *packed, int k)
{
    op.a = packed;
    op.rsa = 1;
    op.csa = TILE_ROWS;
    op.aps = (int64_t)TILE_ROWS * k;
    return op;
}

void fm_tiles(int m, int n, int k, const fm_operands *op, const fm_tile_out *out, int portable)
{
    if (m <= 0 || n <= 0)
        return;
#ifdef FM_X86_INTRINSICS
    if (!portable && fm_tiles_fast()) {
        tiles_avx2(m, n, k, op, out);
        return;
    }
#endif
    (void)portable;
    tiles_portable(m, n, k, op, out);
}

/* Rows [row_begin, row_end) of src's columns [col_begin, col_begin + cols) into panels of
   `panel` columns, each (height, panel) contiguous: the one layout of packed operands. */
static void pack_panels(float *packed, const float *src, int64_t ld, int height, int panel,
                        int col_begin, int cols, int row_begin, int row_end)
{
    for (int g = 0; g < cols; g += panel) {
        int width = cols - g < panel ? cols - g : panel;
        float *dst = packed + (size_t)g * height;
        const float *from = src + col_begin + g;
        /* whole panels copied in constant sizes, which the compiler moves inline: a call per
           row of 6 floats made the packing of a part's inputs an eighth of its update */
        if (width == TILE_ROWS && panel == TILE_ROWS)
            for (int r = row_begin; r < row_end; r++)
                memcpy(dst + (size_t)r * TILE_ROWS, from + (size_t)r * ld,
                       sizeof(float) * TILE_ROWS);
        else if (width == TILE_COLS && panel == TILE_COLS)
            for (int r = row_begin; r < row_end; r++)
                memcpy(dst + (size_t)r * TILE_COLS, from + (size_t)r * ld,
                       sizeof(float) * TILE_COLS);
        else
            for (int r = row_begin; r < row_end; r++)
                memcpy(dst + (size_t)r * panel, from + (size_t)r * ld, sizeof(float) * width);
    }
}

static size_t panels_floats(int height, int cols, int panel)
{
    return (size_t)(cols + panel - 1) / panel * panel * height;
}

size_t fm_packed_columns_floats(int n, int cols)
{
    return panels_floats(n, cols, TILE_ROWS);
}

void fm_pack_columns(float *packed, const float *in, int ld, int n, int col_begin, int cols)
{
    pack_panels(packed, in, ld, n, TILE_ROWS, col_begin, cols, 0, n);
}

size_t fm_packed_floats(int n_in, int n_out)
{
    return panels_floats(n_in, n_out, TILE_COLS);
}

void fm_pack_rows(float *packed, const float *W, int n_in, int n_out, int row_begin, int row_end)
{
    pack_panels(packed, W, n_out, n_in, TILE_COLS, 0, n_out, row_begin, row_end);
}

void fm_unpack_rows(float *W, const float *packed, int n_in, int n_out, int row_begin, int row_end)
{
    for (int g = 0; g < n_out; g += TILE_COLS) {
        int width = n_out - g < TILE_COLS ? n_out - g : TILE_COLS;
        const float *panel = packed + (size_t)g * n_in;
        for (int r = row_begin; r < row_end; r++)
            memcpy(W + (size_t)r * n_out + g, panel + (size_t)r * TILE_COLS, sizeof(float) * width);
    }
}

/* out (n, cols), rows ld_out apart, overwritten with act(A B + b) over op */
static void forward(float *out, int ld_out, const fm_operands *op, const float *b, int n, int k,
                    int cols, int activation)
{
    int in_tile = activation == FM_RELU || activation == FM_LEAKY_RELU || activation == FM_IDENTITY;
    fm_tile_out finish_as = {.kind = in_tile ? FM_TILE_BIAS_ACT : FM_TILE_SCALE,
                             .c = out,
                             .ldc = ld_out,
                             .bias = b,
                             .activation = activation,
                             .alpha = 1.0f};
    fm_tiles(n, cols, k, op, &finish_as, 0);
    if (in_tile)
        return;
    /* an exponential per element: its own pass costs little beside it */
    for (int r = 0; r < n; r++)
        fm_bias_act_forward(out + (size_t)r * ld_out, b, 1, cols, activation);
}

void fm_tiles_forward(float *out, const float *x, const float *W, const float *packed,
                      const float *b, int n, int n_in, int n_out, int activation)
{
    fm_operands op = fm_row_major(x, n_in, 0, W, n_out);
    if (W == NULL)
        op = fm_packed_b(op, packed, n_in);
    forward(out, n_out, &op, b, n, n_in, n_out, activation);
}

void fm_tiles_forward_columns(float *out, int ld_out, const float *x, const float *packed,
                              const float *b, int n, int n_in, int col_begin, int cols,
                              int activation)
{
    fm_operands op = fm_row_major(x, n_in, 0, NULL, 0);
    op = fm_packed_b(op, packed + fm_packed_at((int64_t)TILE_COLS * n_in, 0, col_begin), n_in);
    forward(out + col_begin, ld_out, &op, b + col_begin, n, n_in, cols, activation);
}

void fm_tiles_sgd_step(float *w, float *v, const fm_operands *in_dz, int n, int rows, int n_out,
                       float lr, float mu, float decay, float *packed, int n_in, int row,
                       int stream)
{
    fm_tile_out finish_as = {.kind = v != NULL ? FM_TILE_VELOCITY : FM_TILE_SCALE,
                             .c = w,
                             .ldc = n_out,
                             .v = v,
                             .alpha = -lr,
                             .beta = 1.0f,
                             .mu = mu,
                             .decay = decay,
                             .packed = packed != NULL ? packed + fm_packed_at(0, row, 0) : NULL,
                             .packed_panel = (int64_t)TILE_COLS * n_in,
                             .stream = stream};
    fm_tiles(rows, n_out, n, in_dz, &finish_as, 0);
}
