/*
 * fastmlp's compiled kernels: plain C99, no Python.h, no allocation, no global state.
 *
 * Conventions: row-major, C-contiguous float32 buffers; a weight matrix is (n_in, n_out).
 * Arguments come in the order outputs, inputs, parameters, sizes. Every output says whether
 * it is overwritten or accumulated. The GEMMs go through the BLAS table the caller passes
 * in (the Cython wrapper fills it from scipy.linalg.cython_blas); the C code never stores it.
 */
#ifndef FASTMLP_H
#define FASTMLP_H

#include <stddef.h>
#include <stdint.h>

/* Element-wise loops get an AVX2 clone picked at load time, so a portable -O3 build still
   uses the wide vector units where the CPU has them: with FMA (x86-64-v3: AVX2, FMA, ...) from
   GCC 12, which can dispatch on that level; plain AVX2 before. */
// clang-format off
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && __GNUC__ >= 12
#define FM_VECTORIZED __attribute__((target_clones("arch=x86-64-v3", "default")))
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FM_VECTORIZED __attribute__((target_clones("avx2", "default")))
#else
#define FM_VECTORIZED
#endif
// clang-format on

/* A sum the compiler may split across vector lanes (float addition is not associative, so it
   would not otherwise); built with -fopenmp-simd, which needs no OpenMP runtime. */
#if defined(_OPENMP) || defined(__GNUC__)
#define FM_PRAGMA(x) _Pragma(#x)
#define FM_SIMD_REDUCTION(var) FM_PRAGMA(omp simd reduction(+ : var))
#else
#define FM_SIMD_REDUCTION(var)
#endif

#define FM_MAX_LAYERS 64
/* A minibatch step or an inference block in parts is cut in at most this many fixed parts, which
   any number of threads run with the same bits. */
#define FM_MAX_PARTS 64

/* ---- BLAS, as scipy.linalg.cython_blas exports it (Fortran calling convention) ---- */
typedef void (*fm_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k, float *alpha,
                            float *a, int *lda, float *b, int *ldb, float *beta, float *c,
                            int *ldc);
typedef void (*fm_sgemv_fn)(char *trans, int *m, int *n, float *alpha, float *a, int *lda, float *x,
                            int *incx, float *beta, float *y, int *incy);
/* A row-major SGEMM, C (M, N) = alpha op(A) op(B) + beta C, as the blis package's blis.cy.sgemm
   takes it (BLIS, whose kernels for small and skinny products outrun OpenBLAS's on the shapes of
   a minibatch). */
typedef void (*fm_row_sgemm_fn)(int trans_a, int trans_b, int M, int N, int K, float alpha,
                                const float *A, int lda, const float *B, int ldb, float beta,
                                float *C, int ldc);
typedef struct {
    fm_sgemm_fn sgemm;
    fm_sgemv_fn sgemv;
    fm_row_sgemm_fn row_sgemm; /* where set, every GEMM goes to it instead of sgemm */
    int small_kernels; /* it has OpenBLAS's kernels for small matrices (fm_blas_has_small_kernels) */
    int tiles;         /* fm_gemm's products without a transposed B go to fm_tiles (tiles.c) */
} fm_blas;

/* Sets the BLAS's thread count, for the whole process, returning the one before (OpenBLAS's
   openblas_set_num_threads_local, whose "local" is about OpenMP regions, not threads). */
typedef int (*fm_set_threads_fn)(int n_threads);
/* That setter, looked up through the library holding blas_function (blas_library.c); NULL where
   there is none. The Python side holds the BLAS to one thread while threads of ours run a
   call's parts. */
fm_set_threads_fn fm_find_blas_threads_setter(const void *blas_function);
/* The kernel set OpenBLAS picked for this CPU (or OPENBLAS_CORETYPE named), as its
   openblas_get_corename says ("SkylakeX", "Haswell", ...); NULL for another BLAS. */
const char *fm_blas_core_name(const void *blas_function);
/* Whether that kernel set has small-matrix SGEMM kernels; 0 for NULL. */
int fm_blas_has_small_kernels(const char *core_name);


/* C (M, N) = alpha * op(A) op(B) + beta * C, all row-major; op(A) is (M, K), op(B) is (K, N). */
void fm_gemm(const fm_blas *blas, int trans_a, int trans_b, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* OpenBLAS's small-matrix kernels (those for SkylakeX, which Zen 4 and 5 get too) take a product
   of at most this many multiply-adds when it is A B (not A B^T or A^T B, which it packs first). */
#define FM_SMALL_PRODUCT 1000000.0
/* ... and fm_gemm_rows cuts a product into pieces of this many rows or twice it, at the fewest. */
#define FM_SMALL_PIECE_ROWS 16
/* fm_gemm for C = alpha A B + beta C in pieces of rows that fit the small kernels, where the
   whole does not and a piece can (fm_gemm otherwise). */
void fm_gemm_rows(const fm_blas *blas, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);
/* Rows per piece for the small kernels: M where the whole is small, 0 where no piece can be or
   the BLAS has none. */
int fm_small_rows(const fm_blas *blas, int M, int N, int K);
/* dst (cols, rows) overwritten with src (rows, cols) transposed; src's rows ld apart (_ld). */
void fm_transpose(float *dst, const float *src, int rows, int cols);
void fm_transpose_ld(float *dst, const float *src, int rows, int cols, int ld);
/* y = alpha * op(A) x + beta * y, A row-major (M, N); op(A) = A (y has M) or A^T (y has N). */
void fm_gemv(const fm_blas *blas, int trans_a, int M, int N, float alpha, const float *A, int lda,
             const float *x, float beta, float *y);

/* ---- our own products (tiles.c): each element one chain of multiply-adds ---- */
/* What becomes of a tile of C (M, N) = A B before it is stored; element (i, j) at c[i ldc + j]. */
enum fm_tile_kind {
    FM_TILE_SCALE = 0,    /* C = alpha A B + beta C (C not read when beta is 0) */
    FM_TILE_BIAS_ACT = 1, /* C = act(A B + bias), act relu, leaky_relu or identity */
    FM_TILE_VELOCITY = 2  /* A B the gradient of the weights C: v = mu v + decay C + alpha A B,
                             then C += v, v (same layout as C) */
};
/* packed, where not NULL: each finished element of C also written there as fm_pack_rows lays C
   out, (i, j) at packed[fm_packed_at(packed_panel, i, j)]; with c NULL, C lives there alone (read
   from and written to its panels: kinds velocity and scale, in one pass over k). */
typedef struct {
    int kind;
    float *c;
    int64_t ldc;
    float *v;
    const float *bias;
    int activation;
    float alpha, beta, mu, decay;
    float *packed;
    int64_t packed_panel;
    int stream; /* the packed copy written past the caches (streaming stores, whole tiles): for
                   panels too big to stay cached until they are read */
} fm_tile_out;
/* A (M, K) in panels of 6 rows, element (i, p) at a[(i / 6) aps + (i % 6) rsa + p csa]: in place
   aps is 6 rsa, packed (fm_pack_columns) rsa 1, csa 6, aps 6 K. B (K, N) in panels of 16
   columns, element (p, j) at b[(j / 16) bps + p ldb + j % 16]: row-major B has ldb its row
   length and bps 16, packed B (fm_pack_rows) ldb 16 and bps 16 K. */
typedef struct {
    const float *a;
    int64_t rsa, csa, aps;
    const float *b;
    int64_t ldb, bps;
} fm_operands;
#define FM_TILE_ROWS 6
#define FM_TILE_COLS 16
/* Where element (i, j) of a matrix packed in panels of 16 columns (fm_pack_rows) lies, its panels
   panel_floats apart (16 times its rows). */
static inline size_t fm_packed_at(int64_t panel_floats, int64_t i, int j)
{
    return (size_t)(j / FM_TILE_COLS) * panel_floats + (size_t)i * FM_TILE_COLS + j % FM_TILE_COLS;
}
/* The operands of A B for row-major A (M, K), or A^T with A (K, M) (trans_a), rows lda apart,
   and row-major B (K, N), rows ldb apart. */
fm_operands fm_row_major(const float *A, int lda, int trans_a, const float *B, int ldb);
/* op with B read from fm_pack_rows's panels of panel_rows rows, or A from fm_pack_columns's of
   a product over K = k. */
fm_operands fm_packed_b(fm_operands op, const float *packed, int panel_rows);
fm_operands fm_packed_a(fm_operands op, const float *packed, int k);
/* C = A B finished as `out` says. portable: the plain C loop even where AVX2 runs (tests: the
   same bits). */
void fm_tiles(int M, int N, int K, const fm_operands *op, const fm_tile_out *out, int portable);
/* in (n, ld) columns [col_begin, col_begin + cols) as the A^T of a product: in panels of 6
   columns, each (n, 6) contiguous (fm_operands; the last panel's unused lanes not written). */
size_t fm_packed_columns_floats(int n, int cols);
void fm_pack_columns(float *packed, const float *in, int ld, int n, int col_begin, int cols);
/* Weights W (n_in, n_out) packed: panels of 16 columns, each (n_in, 16) contiguous, so that a
   panel read down its rows stays in cache (rows of W 256 floats long fall in few cache sets).
   fm_packed_floats: the floats that takes. fm_pack_rows: rows [row_begin, row_end) packed. */
size_t fm_packed_floats(int n_in, int n_out);
void fm_pack_rows(float *packed, const float *W, int n_in, int n_out, int row_begin, int row_end);
/* ... and back: rows [row_begin, row_end) of W from its panels. */
void fm_unpack_rows(float *W, const float *packed, int n_in, int n_out, int row_begin, int row_end);
/* 1 where the AVX2 and FMA tiles run: elsewhere the portable loop is too slow to plan on. */
int fm_tiles_fast(void);
/* out (n, n_out) overwritten with act(x W + b), as fm_dense_forward, through fm_tiles; W read
   in place, or packed (W NULL) from fm_pack_rows's panels. */
void fm_tiles_forward(float *out, const float *x, const float *W, const float *packed,
                      const float *b, int n, int n_in, int n_out, int activation);
/* ... its columns [col_begin, col_begin + cols) alone, col_begin a multiple of 16, from the
   panels of W (n_in, .), into out's rows ld_out apart: b the whole layer's bias. */
void fm_tiles_forward_columns(float *out, int ld_out, const float *x, const float *packed,
                              const float *b, int n, int n_in, int col_begin, int cols,
                              int activation);
/* One SGD step of weight rows w (rows, n_out) from their gradient, the product in_dz (in^T dz,
   in (n, rows), dz (n, n_out)), in the same pass: with v (same shape) v = mu v + decay w - lr g,
   w += v; with v NULL w -= lr g. packed, where not NULL: the stepped rows also written into the
   layer's fm_pack_rows panels (of n_in rows), w's first row at row `row`, past the caches where
   stream; with w NULL the weights are read from there too, and written only there. */
void fm_tiles_sgd_step(float *w, float *v, const fm_operands *in_dz, int n, int rows, int n_out,
                       float lr, float mu, float decay, float *packed, int n_in, int row,
                       int stream);

/* ---- input checks (finite.c) ---- */
/* 1 when x (count,) holds no NaN or Inf, else 0. */
int fm_all_finite(const float *x, size_t count);

/* ---- activations (activations.c) ---- */
enum fm_activation { FM_RELU = 0, FM_LEAKY_RELU = 1, FM_SIGMOID = 2, FM_TANH = 3, FM_IDENTITY = 4 };
#define FM_LEAKY_SLOPE 0.01f

/* z (n, m): overwritten with act(z + bias), bias (m,) broadcast over rows. */
void fm_bias_act_forward(float *z, const float *bias, int n, int m, int activation);
/* delta (n, m): multiplied in place by act'(.) written in terms of the activation's output a (n, m). */
void fm_act_backward(float *delta, const float *a, int n, int m, int activation);

/* ---- dense layers (dense.c) ---- */
/* out (n, n_out) overwritten with act(x W + b); x (n, n_in), W (n_in, n_out), b (n_out,). */
void fm_dense_forward(const fm_blas *blas, float *out, const float *x, const float *W,
                      const float *b, int n, int n_in, int n_out, int activation);
/* Gradients of a dense layer given dz (n, n_out), the loss gradient at its pre-activation:
   dx (n, n_in) overwritten with dz W^T (skipped when dx is NULL);
   dW (n_in, n_out) = alpha * x^T dz + beta * dW;  db (n_out,) = alpha * colsum(dz) + beta * db. */
void fm_dense_backward(const fm_blas *blas, float *dx, float *dW, float *db, const float *dz,
                       const float *x, const float *W, int n, int n_in, int n_out, float alpha,
                       float beta);

/* a . b, both (m,), summed in vector lanes */
float fm_dot(const float *a, const float *b, int m);
/* Batch 1, without BLAS. out (n_out,) overwritten with act(x W + b); x (n_in,), W's rows ldw
   apart (a block of columns of a wider W where ldw > n_out). */
void fm_dense_forward_row(float *out, const float *x, const float *W, int ldw, const float *b,
                          int n_in, int n_out, int activation);
/* Batch 1, weight rows [row_begin, row_end) of W (n_in, n_out; rows ldw apart, as are vW's,
   so that W may be a block of columns of a wider one): dx[i] overwritten with
   W[i] . dz (skipped when dx is NULL), then those rows, and b (n_out,) unless b is NULL, updated
   in place by SGD in the same pass: with velocities vW, vb (same shapes)
   v = momentum v - lr (g + weight_decay w), w += v; with vW NULL plain w -= lr g
   (weight_decay must then be 0). x (n_in,), dz (n_out,). */
void fm_dense_backward_row(float *dx, float *W, float *b, float *vW, float *vb, const float *dz,
                           const float *x, int row_begin, int row_end, int n_out, int ldw, float lr,
                           float momentum, float weight_decay, int32_t *stamp, int32_t step);

/* Lazy momentum for a first layer at batch 1: a weight row whose input is zero gets no gradient,
   only momentum's decay, which k steps later is one 2x2 matrix power. With stamp (n_in,) not
   NULL, fm_dense_backward_row skips rows with x[i] == 0 and stamps the others with step + 1;
   fm_lazy_catch_up then brings rows (those with x[i] != 0, or all when x is NULL) from their
   stamp up to `step`, with powers (4 * (max_steps + 1),) from fm_lazy_powers. */
#define FM_LAZY_MAX_STEPS 4096
void fm_lazy_catch_up(float *W, float *vW, int32_t *stamp, const float *x, int n_in, int n_out,
                      int32_t step, const float *powers);
void fm_lazy_powers(float *powers, int max_steps, float momentum, float c);

/* ---- layers over mostly-zero inputs (sparse_lists.c, sparse.c, sparse_relu.c) ---- */
/* Rows of a minibatch whose non-zeros the forward pass sums together */
#define FM_SPARSE_GROUP 4
/* Rows of a minibatch held as their non-zero inputs, by rows and by columns; built by
   fm_sparse_gather in a buffer that fm_sparse_layout measures and carves up. */
typedef struct {
    int n, n_in, nnz;   /* rows, inputs per row, non-zeros held */
    int first_row;      /* the minibatch row of row 0 */
    size_t capacity;    /* non-zeros that fit: n_in * max_rows */
    int32_t *row_start; /* (n + 1,): row r's non-zeros are row_index/row_value[row_start[r]..] */
    int32_t *row_index; /* (capacity,) their columns */
    float *row_value;   /* (capacity,) */
    int32_t *col_start; /* (n_in + 1,): column j's are col_index/col_value[col_start[j]..] */
    int32_t *col_fill;  /* (n_in + 1,) scratch */
    int32_t *col_index; /* (capacity,) their minibatch rows, first_row + r, in order */
    float *col_value;   /* (capacity,) */
    int columns;        /* list them by columns (fm_sparse_layout sets it; inference needs none) */
    /* With AVX-512 (else groups is 0), rows 4g .. 4g + 3 together for g < groups = n / 4: the
       inputs non-zero in any of them, group_index[group_start[g]..], with the four rows' values
       (some of them zero) in group_value[0..3] */
    int grouped; /* list the groups (fm_sparse_layout) */
    int groups;
    int32_t *group_start;                /* (max_rows / 4 + 1,) */
    int32_t *group_index;                /* (n_in * (max_rows / 4),) */
    float *group_value[FM_SPARSE_GROUP]; /* (n_in * (max_rows / 4),) each */
} fm_sparse;

/* The int32 slots s needs for up to max_rows rows of n_in inputs; with a buffer, s carved out
   of it, empty. width: the rows will meet fm_sparse_forward for width columns; the gather then
   lists their groups where that pays (fm_sparse_groups_pay). */
size_t fm_sparse_layout(fm_sparse *s, int32_t *buffer, int n_in, int max_rows, int width);
int fm_sparse_groups_pay(int width);
/* Rows `rows` (n,) of X (., n_in) -- or rows start .. start + n - 1 when rows is NULL -- into s
   as minibatch rows first_row .., their labels from y into labels (n,). */
void fm_sparse_gather(fm_sparse *s, int32_t *labels, int target_words, const float *X,
                      const int32_t *y, const int64_t *rows, int64_t start, int n, int first_row);
/* Those rows of X on their way to the L2 cache, for a gather a while later (sparse or dense). */
void fm_prefetch_rows(const float *X, const int64_t *rows, int64_t start, int n, int n_in);
/* out (n, width), rows ld_out apart, overwritten with act(x W + b); W (n_in, width), rows ld_w
   apart, b (width,). A block of columns of a wider layer is its pointers moved along. */
void fm_sparse_forward(float *out, int ld_out, const fm_sparse *x, const float *W, int ld_w,
                       const float *b, int width, int activation);
/* One SGD step on rows [row_begin, row_end) of W (n_in, width), rows ld_w apart, from the
   minibatch held in parts (n_parts <= FM_MAX_PARTS pointers, to consecutive rows) and dz (n,
   width), rows ld_dz apart, the loss gradient at the layer's pre-activation: g = x^T dz,
   v = mu v + c w - lr g, w += v with the velocity vW (same shape); w -= lr g when vW is NULL.
   The bias is fm_bias_step's. */
/* dx (n, n_in), rows ld_dx apart, overwritten with (dz W^T) * relu'(x) for the rows listed, x
   (n, n_in) a ReLU's outputs: a dot product of dz's row (n_out,) and W's row (W (n_in, n_out),
   rows ld_w apart) for each input above zero, 0 for the others. A layer's backward product and
   the derivative of the ReLU before it, together. */
void fm_sparse_relu_backward(float *dx, int ld_dx, const fm_sparse *x, const float *dz, int ld_dz,
                             const float *W, int ld_w, int n_out);
/* gW (n_in, n_out): rows [row_begin, row_end) overwritten with the weight gradient x^T dz (zero
   rows where the minibatch has no input), for optimizers that need the gradient itself. */
void fm_sparse_gradient(float *gW, const fm_sparse *const *parts, int n_parts, const float *dz,
                        int n_out, int row_begin, int row_end);
void fm_sparse_update(float *W, float *vW, int ld_w, const fm_sparse *const *parts, int n_parts,
                      const float *dz, int ld_dz, int row_begin, int row_end, int width, float lr,
                      float mu, float c);

/* ---- dropout (dropout.c) ---- */
/* Whether unit `unit` of hidden layer `layer` (1 .. n_layers - 1) is kept in row `row` of step
   `step`'s minibatch, at a rate of dropping in [0, 1): a hash of them and the seed. */
int fm_dropout_keeps(uint64_t seed, int64_t step, int64_t row, int layer, int unit, float rate);
/* a (n, width), rows first_row.. of a step's minibatch of hidden layer `layer`: the dropped units
   zeroed, the kept ones scaled by 1 / (1 - rate) (inverted dropout). */
void fm_dropout_forward(float *a, int n, int width, uint64_t seed, int64_t step, int64_t first_row,
                        int layer, float rate);
/* delta (n, width) times the derivative of the activation then dropout, at fm_dropout_forward's
   outputs a: zero where dropped; where kept, the activation's at a (1 - rate), over (1 - rate). */
void fm_dropout_backward(float *delta, const float *a, int n, int width, int activation,
                         uint64_t seed, int64_t step, int64_t first_row, int layer, float rate);

/* ---- output layer and loss (loss.c) ---- */
enum fm_head {
    FM_SOFTMAX_CE = 0,
    FM_SIGMOID_MSE = 1,
    FM_SIGMOID_CE = 2,
    FM_SOFTMAX_MSE = 3,
    FM_IDENTITY_MSE = 4,  /* regression: the outputs as they are, against float targets */
    FM_IDENTITY_HUBER = 5 /* ... Huber's loss: squared within FM_HUBER_DELTA, linear beyond */
};
#define FM_HUBER_DELTA 1.0f /* Keras' and PyTorch's default */

/* z (n, k): logits, overwritten with the outputs (softmax or sigmoid). */
void fm_head_output(float *z, int n, int k, int head);
/* z (n, k): logits, overwritten with the outputs; y: the targets, a row's fm_target_words(head,
   k) 4-byte words apart: labels in [0, k), or for the identity heads k float values (their bits).
   dz (n, k), unless NULL: overwritten with scale * d(loss)/dz (scale = 1/n gives the mean loss's).
   Returns the loss summed over rows; *correct (unless NULL) gets the count of argmax == y
   (nothing, for regression). */
int fm_target_words(int head, int k);
double fm_head_loss(float *z, float *dz, const int32_t *y, int n, int k, int head, float scale,
                    int64_t *correct);

/* ---- optimizers (optim.c) ---- */
enum fm_optimizer_kind { FM_SGD = 0, FM_ADAM = 1 };
typedef struct {
    int kind;
    float lr, momentum, weight_decay; /* SGD (weight_decay for Adam too) */
    int nesterov;
    float beta1, beta2, eps; /* Adam */
    int64_t step;            /* Adam's t: steps taken so far, advanced by each update */
} fm_optimizer;

/* p, v (count,): updated in place from the gradient g (count,). v is the velocity (SGD with
   momentum, weight decay or Nesterov) or unused (NULL allowed for plain SGD). */
void fm_sgd_update(float *p, float *v, const float *g, size_t count, const fm_optimizer *opt);
/* p, m, v (count,): updated in place; bc1 = 1 - beta1^t, bc2 = 1 - beta2^t for this step. */
void fm_adam_update(float *p, float *m, float *v, const float *g, size_t count,
                    const fm_optimizer *opt, float bc1, float bc2);
/* v (count,) = mu v + c p: a momentum step's decay (c = -lr * weight_decay), before the gradient. */
void fm_decay_velocity(float *v, const float *p, size_t count, float mu, float c);
/* p (count,) += d (count,). */
void fm_add_inplace(float *p, const float *d, size_t count);
/* Columns [c0, c1) of W (n_in, n_out), each a unit's incoming weights, scaled by max_norm /
   (FM_MAX_NORM_EPS + norm) where their norm exceeds max_norm; packed (fm_pack_rows's panels of W,
   or NULL) follows. */
#define FM_MAX_NORM_EPS 1e-7f
void fm_max_norm_columns(float *W, float *packed, int n_in, int n_out, int c0, int c1,
                         float max_norm);
/* An SGD step on count biases b from dz (n rows of ld floats; its first count columns): g = the
   column sums, v = mu v + c b - lr g, b += v with the velocity vb, or b -= lr g (vb NULL). */
void fm_bias_step(float *b, float *vb, const float *dz, int n, int ld, int count, float lr,
                  float mu, float c);

/* ---- the network, the plan of a call, and the entry points ---- */
typedef struct {
    int n_layers;     /* weight layers */
    const int *sizes; /* (n_layers + 1,) widths */
    int activation;   /* hidden layers */
    int head;
    float *params;         /* arena: W0 (sizes[0], sizes[1]), b0 (sizes[1],), W1, b1, ... */
    float *grads;          /* same layout; needed by loss_and_gradients, Nesterov and Adam */
    float *state1;         /* same layout: velocity, or Adam's first moment (NULL if unused) */
    float *state2;         /* same layout: Adam's second moment (NULL if unused) */
    const float *dropout;  /* (n_layers + 1,): the rate each hidden layer's outputs are dropped at
                              in training (the first and last 0), or NULL: none */
    uint64_t dropout_seed; /* the dropout stream's */
    int64_t steps;         /* steps trained so far: where the stream is; training advances it */
    float max_norm;        /* > 0: each unit's incoming weights rescaled to at most this norm
                              after every step; 0: not */
} fm_net;


/* How a step updates the parameters: none (inference, gradients); plain SGD; SGD with a
   velocity (momentum or weight decay); the gradient first, then the optimizer (Adam, Nesterov). */
enum fm_update { FM_NO_UPDATE = 0, FM_PLAIN_SGD = 1, FM_VELOCITY_SGD = 2, FM_GRADIENT_STEP = 3 };

/* How a call runs: decided by the caller once (fastmlp/_plan.py), obeyed here, never decided
   again. Every plan gives the same results within float32 rounding; a plan's results do not
   depend on the number of threads that run it. */
typedef struct {
    int rows;              /* rows per step (fit) or per block (inference) */
    int parts;             /* 1: steps and blocks run whole; 2 .. FM_MAX_PARTS: cut in parts */
    int update;            /* enum fm_update */
    int sparse_inputs;     /* in parts: the first layer reads the inputs as non-zeros */
    int lazy_first_layer;  /* batch 1 with a velocity: lazy first-layer rows (fm_lazy_catch_up) */
    int by_columns;        /* in parts, sparse, SGD: the first layer stepped by its columns */
    int private_columns;   /* ... each part's columns on a private copy */
    uint64_t hidden_lists; /* in parts, bit l: layer l's inputs (a ReLU's outputs) listed as
                              non-zeros, summed over where mostly zeros */
    int packed_operands; /* training in parts with the tiles: the dense layers' forward passes read
                              their weights in panels (fm_pack_rows), packed once a step, and
                              their weight gradients the deltas, packed as each part makes them */
    int target_words;    /* 4-byte words of target per row: fm_target_words(head, outputs) */
    int packed_first_layer; /* packed operands, dense inputs, plain or velocity SGD: the first
                               layer's weights live in their panels for the call, each step reads
                               and writes only those, and W is written from them at its end */
    int batch1_columns;     /* batch 1 (rows 1), each row whole, but the first layer's forward pass
                           and step cut by its columns in `parts` that threads take (batch1.c) */
    int stream_panels;      /* packed operands, dense inputs, plain or velocity SGD, W kept: the
                               first layer's panels written past the caches at each step */
    int forward_by_columns; /* in parts, dense inputs, packed operands: the first layer's forward
                               pass in a phase of its own, each part a share of its columns for
                               every row, so that a step reads its panels once, not once a part;
                               shuffled inputs are gathered a step ahead, in turns (minibatch.c) */
} fm_plan;

/* The buffer of a call's activations, deltas and lists, laid out for its plan. */
typedef struct {
    fm_plan plan;
    float *buffer;      /* fm_workspace_size(sizes, n_layers, &plan) floats, the caller's */
    int weights_packed; /* the caller's word that the plan's packed weights are W as the last
                           training call on this buffer left them (nothing changed W since): the
                           next call does not pack them again */
} fm_workspace;

typedef struct {
    double loss_sum; /* accumulated: sum over rows of the per-row loss */
    int64_t correct; /* accumulated: rows whose argmax was the label */
    int64_t rows;    /* accumulated: rows seen */
    int64_t steps;   /* accumulated: minibatch steps completed */
} fm_stats;

enum fm_status { FM_OK = 0, FM_NONFINITE_LOSS = 1, FM_MISSING_STATE = 2, FM_BAD_PLAN = 3 };

size_t fm_param_count(const int *sizes, int n_layers);
size_t fm_workspace_size(const int *sizes, int n_layers, const fm_plan *plan);

/* Train on minibatches first_batch .. first_batch + n_batches - 1 of one epoch, of ws->plan.rows
   rows each. Batch i is the rows order[i*rows ..] of X (n_rows, sizes[0]); order NULL means rows
   in stored order, read in place without a copy. y (n_rows,). Returns FM_NONFINITE_LOSS, leaving
   the parameters as they were before that batch, when a batch's loss is not finite;
   FM_MISSING_STATE when the plan's update needs a buffer net lacks; FM_BAD_PLAN for a plan no
   engine runs. Steps in parts take up to n_threads threads. */
int fm_train_chunk(const fm_blas *blas, fm_net *net, fm_optimizer *opt, fm_workspace *ws,
                   const float *X, const int32_t *y, const int64_t *order, int64_t n_rows,
                   int64_t first_batch, int64_t n_batches, int n_threads, fm_stats *stats);

/* net->grads overwritten with the gradients of the mean loss over X (n, sizes[0]), y (n,);
   ws planned whole for n rows. Returns the mean loss. */
double fm_loss_and_gradients(const fm_blas *blas, fm_net *net, fm_workspace *ws, const float *X,
                             const int32_t *y, int n);

/* out (n_rows, k) overwritten with the network's outputs, in blocks of ws->plan.rows rows (in
   parts: up to n_threads threads). */
void fm_predict(const fm_blas *blas, const fm_net *net, fm_workspace *ws, float *out,
                const float *X, int64_t n_rows, int n_threads);

/* Loss and accuracy over X, y in blocks of ws->plan.rows rows; accumulated into stats. */
void fm_evaluate(const fm_blas *blas, const fm_net *net, fm_workspace *ws, const float *X,
                 const int32_t *y, int64_t n_rows, int n_threads, fm_stats *stats);

#endif
