/* Dense layers: the GEMMs go to BLAS, everything element-wise is fused into one pass. */
#include "cpu.h"
#include "fastmlp.h"

void fm_gemm(const fm_blas *blas, int trans_a, int trans_b, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (blas->tiles && !trans_b) {
        fm_tile_out finish_as = {
            .kind = FM_TILE_SCALE, .c = C, .ldc = ldc, .alpha = alpha, .beta = beta};
        fm_operands op = fm_row_major(A, lda, trans_a, B, ldb);
        fm_tiles(M, N, K, &op, &finish_as, 0);
        return;
    }
    if (blas->row_sgemm != NULL) {
        blas->row_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* BLAS is column-major, and a row-major matrix read column-major is its transpose:
       row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so swap the operands. */
    char ta = trans_b ? 'T' : 'N';
    char tb = trans_a ? 'T' : 'N';
    blas->sgemm(&ta, &tb, &N, &M, &K, &alpha, (float *)B, &ldb, (float *)A, &lda, &beta, C, &ldc);
}

/* Rows per piece for fm_gemm_rows: the most of 32 or 16 whose product is small. Small pieces
   outrun the whole product in the small kernels, and a multiple of 16 rows suits them best. */
int fm_small_rows(const fm_blas *blas, int M, int N, int K)
{
    if (!blas->small_kernels)
        return 0;
    if ((double)M * N * K <= FM_SMALL_PRODUCT)
        return M;
    for (int piece = 2 * FM_SMALL_PIECE_ROWS; piece >= FM_SMALL_PIECE_ROWS;
         piece -= FM_SMALL_PIECE_ROWS)
        if ((double)piece * N * K <= FM_SMALL_PRODUCT)
            return piece;
    return 0;
}

void fm_gemm_rows(const fm_blas *blas, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc)
{
    int piece = fm_small_rows(blas, M, N, K);
    if (piece == 0) /* too wide for them, or no such kernels: the whole at once */
        piece = M;
    for (int i = 0; i < M; i += piece)
        fm_gemm(blas, 0, 0, M - i < piece ? M - i : piece, N, K, alpha, A + (size_t)i * lda, lda, B,
                ldb, beta, C + (size_t)i * ldc, ldc);
}

/* x86-64 with GCC or Clang: the transpose moves 8 x 8 tiles in AVX2 registers where the CPU has
   AVX2, picked at run time; one float at a time it was a visible share of a minibatch step. */
#ifdef FM_X86_INTRINSICS
__attribute__((target("avx2"))) static void transpose_tiles_avx2(float *dst, const float *src,
                                                                 int rows, int cols, int ld)
{
    /* the tiles of whole 8 x 8 blocks: rows and cols rounded down to multiples of 8 */
    for (int r0 = 0; r0 + 8 <= rows; r0 += 8)
        for (int c0 = 0; c0 + 8 <= cols; c0 += 8) {
            const float *in = src + (size_t)r0 * ld + c0;
            // clang-format off
            __m256 a0 = _mm256_loadu_ps(in), a1 = _mm256_loadu_ps(in + ld);
            __m256 a2 = _mm256_loadu_ps(in + 2 * (size_t)ld), a3 = _mm256_loadu_ps(in + 3 * (size_t)ld);
            __m256 a4 = _mm256_loadu_ps(in + 4 * (size_t)ld), a5 = _mm256_loadu_ps(in + 5 * (size_t)ld);
            __m256 a6 = _mm256_loadu_ps(in + 6 * (size_t)ld), a7 = _mm256_loadu_ps(in + 7 * (size_t)ld);
            // clang-format on
            __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
            __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
            __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
            __m256 t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
            __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *out = dst + (size_t)c0 * rows + r0;
            _mm256_storeu_ps(out, _mm256_permute2f128_ps(s0, s4, 0x20));
            _mm256_storeu_ps(out + rows, _mm256_permute2f128_ps(s1, s5, 0x20));
            _mm256_storeu_ps(out + 2 * (size_t)rows, _mm256_permute2f128_ps(s2, s6, 0x20));
            _mm256_storeu_ps(out + 3 * (size_t)rows, _mm256_permute2f128_ps(s3, s7, 0x20));
            _mm256_storeu_ps(out + 4 * (size_t)rows, _mm256_permute2f128_ps(s0, s4, 0x31));
            _mm256_storeu_ps(out + 5 * (size_t)rows, _mm256_permute2f128_ps(s1, s5, 0x31));
            _mm256_storeu_ps(out + 6 * (size_t)rows, _mm256_permute2f128_ps(s2, s6, 0x31));
            _mm256_storeu_ps(out + 7 * (size_t)rows, _mm256_permute2f128_ps(s3, s7, 0x31));
        }
}
#endif

static void transpose_part(float *dst, const float *src, int rows, int ld, int r_begin, int c_begin,
                           int c_end)
{
    for (int r = r_begin; r < rows; r++)
        for (int c = c_begin; c < c_end; c++)
            dst[(size_t)c * rows + r] = src[(size_t)r * ld + c];
}

void fm_transpose(float *dst, const float *src, int rows, int cols)
{
    fm_transpose_ld(dst, src, rows, cols, cols);
}

void fm_transpose_ld(float *dst, const float *src, int rows, int cols, int ld)
{
    int tiled_rows = 0, tiled_cols = 0;
#ifdef FM_X86_INTRINSICS
    if (fm_cpu_has_avx2()) {
        transpose_tiles_avx2(dst, src, rows, cols, ld);
        tiled_rows = rows - rows % 8;
        tiled_cols = cols - cols % 8;
    }
#endif
    transpose_part(dst, src, rows, ld, 0, tiled_cols, cols); /* the columns right of the tiles */
    transpose_part(dst, src, rows, ld, tiled_rows, 0, tiled_cols); /* the rows below them */
}

void fm_gemv(const fm_blas *blas, int trans_a, int M, int N, float alpha, const float *A, int lda,
             const float *x, float beta, float *y)
{
    /* A row-major (M, N) is column-major (N, M) A^T: A x is then a transposed product. */
    char t = trans_a ? 'N' : 'T';
    int one = 1;
    blas->sgemv(&t, &N, &M, &alpha, (float *)A, &lda, (float *)x, &one, &beta, y, &one);
}

void fm_dense_forward(const fm_blas *blas, float *out, const float *x, const float *W,
                      const float *b, int n, int n_in, int n_out, int activation)
{
    /* out: (n, n_out); x: (n, n_in); W: (n_in, n_out); b: (n_out,) */
    if (n == 1) { /* one row: summing only the rows of W with a non-zero input beats BLAS */
        fm_dense_forward_row(out, x, W, n_out, b, n_in, n_out, activation);
        return;
    }
    if (blas->tiles) {
        fm_tiles_forward(out, x, W, NULL, b, n, n_in, n_out, activation);
        return;
    }
    fm_gemm_rows(blas, n, n_out, n_in, 1.0f, x, n_in, W, n_out, 0.0f, out, n_out);
    fm_bias_act_forward(out, b, n, n_out, activation);
}

FM_VECTORIZED
static void column_sums(float *db, const float *dz, int n, int m, float alpha, float beta)
{
    /* db: (m,) = alpha * sum over rows of dz (n, m) + beta * db */
    for (int j = 0; j < m; j++)
        db[j] = beta == 0.0f ? 0.0f : beta * db[j];
    for (int i = 0; i < n; i++) {
        const float *row = dz + (size_t)i * m;
        for (int j = 0; j < m; j++)
            db[j] += alpha * row[j];
    }
}

FM_VECTORIZED
static void outer_product(float *dW, const float *x, const float *dz, int n_in, int n_out,
                          float alpha, float beta)
{
    /* dW: (n_in, n_out) = alpha * x dz^T + beta * dW, for one row. Skipping zero inputs
       (most of an MNIST image) is exact when beta == 1: those rows do not change. */
    for (int i = 0; i < n_in; i++) {
        float *row = dW + (size_t)i * n_out;
        float s = alpha * x[i];
        if (beta == 1.0f) {
            if (s == 0.0f)
                continue;
            for (int j = 0; j < n_out; j++)
                row[j] += s * dz[j];
        } else if (beta == 0.0f) {
            for (int j = 0; j < n_out; j++)
                row[j] = s * dz[j];
        } else {
            for (int j = 0; j < n_out; j++)
                row[j] = s * dz[j] + beta * row[j];
        }
    }
}

void fm_dense_backward(const fm_blas *blas, float *dx, float *dW, float *db, const float *dz,
                       const float *x, const float *W, int n, int n_in, int n_out, float alpha,
                       float beta)
{
    /* dx: (n, n_in) or NULL; dW: (n_in, n_out); db: (n_out,); dz: (n, n_out); x: (n, n_in);
       W: (n_in, n_out). dx is computed first, so dW may alias W (an update in place). */
    if (dx != NULL) {
        if (n == 1)
            fm_gemv(blas, 0, n_in, n_out, 1.0f, W, n_out, dz, 0.0f, dx);
        else
            fm_gemm(blas, 0, 1, n, n_in, n_out, 1.0f, dz, n_out, W, n_out, 0.0f, dx, n_in);
    }
    if (n == 1)
        outer_product(dW, x, dz, n_in, n_out, alpha, beta);
    else
        fm_gemm(blas, 1, 0, n_in, n_out, n, alpha, x, n_in, dz, n_out, beta, dW, n_out);
    column_sums(db, dz, n, n_out, alpha, beta);
}

/* ---- batch 1: matrix-vector work without BLAS, each layer one pass over its weights ---- */

FM_VECTORIZED
static void axpy(float *y, float a, const float *x, int m)
{
    for (int j = 0; j < m; j++)
        y[j] += a * x[j];
}

/* axpy of four rows in turn, each element's sum kept in a register between them: the same
   multiply-adds in the same order as four calls, without storing y three times */
FM_VECTORIZED
static void axpy4(float *y, const float *a, const float *const *x, int m)
{
    for (int j = 0; j < m; j++)
        y[j] = (((y[j] + a[0] * x[0][j]) + a[1] * x[1][j]) + a[2] * x[2][j]) + a[3] * x[3][j];
}

FM_VECTORIZED
float fm_dot(const float *a, const float *b, int m)
{
    float sum = 0.0f;
    /* a reduction: the pragma lets the compiler reorder the sum into vector lanes */
    FM_SIMD_REDUCTION(sum)
    for (int j = 0; j < m; j++)
        sum += a[j] * b[j];
    return sum;
}

void fm_dense_forward_row(float *out, const float *x, const float *W, int ldw, const float *b,
                          int n_in, int n_out, int activation)
{
    /* out: (n_out,) = act(x W + b); x: (n_in,); W: (n_in, n_out), rows ldw apart. Summing rows
       of W weighted by x skips the zero inputs BLAS would multiply: most of an MNIST image, half
       of a ReLU layer. */
    for (int j = 0; j < n_out; j++)
        out[j] = 0.0f;
    float a[4];
    const float *rows[4];
    int held = 0; /* rows waiting for axpy4 */
    for (int i = 0; i < n_in; i++) {
        if (x[i] == 0.0f)
            continue;
        a[held] = x[i];
        rows[held++] = W + (size_t)i * ldw;
        if (held == 4) {
            axpy4(out, a, rows, n_out);
            held = 0;
        }
    }
    for (int r = 0; r < held; r++)
        axpy(out, a[r], rows[r], n_out);
    fm_bias_act_forward(out, b, 1, n_out, activation);
}

FM_VECTORIZED
static float velocity_row_update(float *w, float *v, float s, const float *dz, int m, float mu,
                                 float decay)
{
    /* w, v, dz: (m,); s = -lr * x_i (or -lr for the bias row); decay = -lr * weight_decay.
       Returns w . dz with w before the update: the backward product, read in the same pass. */
    float sum = 0.0f;
    FM_SIMD_REDUCTION(sum)
    for (int j = 0; j < m; j++) {
        float wj = w[j];
        float vj = mu * v[j] + s * dz[j] + decay * wj;
        sum += wj * dz[j];
        v[j] = vj;
        w[j] = wj + vj;
    }
    return sum;
}

void fm_dense_backward_row(float *dx, float *W, float *b, float *vW, float *vb, const float *dz,
                           const float *x, int row_begin, int row_end, int n_out, int ldw, float lr,
                           float momentum, float weight_decay, int32_t *stamp, int32_t step)
{
    /* One row of data, weight rows [row_begin, row_end), ldw apart: dx[i] = W[i] . dz with the weights
       before the step (skipped when dx is NULL), then the SGD step on those rows in the same
       pass, so the weights are read once; b (and vb) too unless b is NULL. With the velocity
       vW, vb: v = momentum v - lr (g + weight_decay w), w += v; without (NULL): w -= lr g,
       where rows with a zero input do not change. */
    int velocity = vW != NULL;
    float decay = -lr * weight_decay;
    for (int i = row_begin; i < row_end; i++) {
        float *w = W + (size_t)i * ldw;
        if (stamp != NULL) { /* lazy rows: only those with an input move now */
            if (x[i] == 0.0f)
                continue;
            stamp[i] = step + 1;
        }
        if (velocity) {
            float back = velocity_row_update(w, vW + (size_t)i * ldw, -lr * x[i], dz, n_out,
                                             momentum, decay);
            if (dx != NULL)
                dx[i] = back;
            continue;
        }
        if (dx != NULL)
            dx[i] = fm_dot(w, dz, n_out);
        if (x[i] != 0.0f)
            axpy(w, -lr * x[i], dz, n_out);
    }
    if (b == NULL)
        return;
    if (velocity)
        velocity_row_update(b, vb, -lr, dz, n_out, momentum, decay);
    else
        axpy(b, -lr, dz, n_out);
}

// clang-format off
FM_VECTORIZED  /* much of a batch-1 fit: the AVX2 clone takes 8 floats at a time, not 4 */
void fm_lazy_catch_up(float *W, float *vW, int32_t *stamp, const float *x, int n_in, int n_out,
                      int32_t step, const float *powers)
// clang-format on
{
    /* Rows i (all, or those with x[i] != 0 when x is given) last brought up to date at step
       stamp[i] are moved to `step`: k = step - stamp[i] steps of w' = (1 + c) w + mu v,
       v' = c w + mu v (zero gradient), done at once with the matrix power A^k = powers[4k..4k+3]. */
    for (int i = 0; i < n_in; i++) {
        if (x != NULL && x[i] == 0.0f)
            continue;
        int k = step - stamp[i];
        stamp[i] = step;
        if (k == 0)
            continue;
        const float *a = powers + 4 * (size_t)k;
        float *w = W + (size_t)i * n_out, *v = vW + (size_t)i * n_out;
        for (int j = 0; j < n_out; j++) {
            float wj = w[j], vj = v[j];
            w[j] = a[0] * wj + a[1] * vj;
            v[j] = a[2] * wj + a[3] * vj;
        }
    }
}

void fm_lazy_powers(float *powers, int max_steps, float momentum, float c)
{
    /* powers[4k..4k+3] = A^k for k = 0..max_steps, A = [[1 + c, mu], [c, mu]], in double */
    double a11 = 1.0, a12 = 0.0, a21 = 0.0, a22 = 1.0;
    for (int k = 0; k <= max_steps; k++) {
        powers[4 * (size_t)k] = (float)a11;
        powers[4 * (size_t)k + 1] = (float)a12;
        powers[4 * (size_t)k + 2] = (float)a21;
        powers[4 * (size_t)k + 3] = (float)a22;
        double b11 = (1.0 + c) * a11 + momentum * a21, b12 = (1.0 + c) * a12 + momentum * a22;
        double b21 = c * a11 + momentum * a21, b22 = c * a12 + momentum * a22;
        // clang-format off
        a11 = b11; a12 = b12; a21 = b21; a22 = b22;
        // clang-format on
    }
}
