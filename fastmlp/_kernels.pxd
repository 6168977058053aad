# The C API of csrc/fastmlp.h, declared once.
from libc.stdint cimport int32_t, int64_t, uint64_t

cdef extern from "fastmlp.h" nogil:
    ctypedef void (*fm_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k, float *alpha,
                                 float *a, int *lda, float *b, int *ldb, float *beta, float *c,
                                 int *ldc) noexcept nogil
    ctypedef void (*fm_sgemv_fn)(char *trans, int *m, int *n, float *alpha, float *a, int *lda,
                                 float *x, int *incx, float *beta, float *y, int *incy) noexcept nogil
    ctypedef int (*fm_set_threads_fn)(int n_threads) noexcept nogil
    ctypedef void (*fm_row_sgemm_fn)(int trans_a, int trans_b, int M, int N, int K, float alpha,
                                     const float *A, int lda, const float *B, int ldb, float beta,
                                     float *C, int ldc) noexcept nogil
    ctypedef struct fm_blas:
        fm_sgemm_fn sgemm
        fm_sgemv_fn sgemv
        fm_row_sgemm_fn row_sgemm
        int small_kernels
        int tiles
    fm_set_threads_fn fm_find_blas_threads_setter(const void *blas_function)
    const char *fm_blas_core_name(const void *blas_function)
    int fm_blas_has_small_kernels(const char *core_name)

    enum: FM_TILE_SCALE, FM_TILE_BIAS_ACT, FM_TILE_VELOCITY
    ctypedef struct fm_tile_out:
        int kind
        float *c
        int64_t ldc
        float *v
        const float *bias
        int activation
        float alpha, beta, mu, decay
        float *packed
        int64_t packed_panel
        int stream
    ctypedef struct fm_operands:
        const float *a
        int64_t rsa, csa, aps
        const float *b
        int64_t ldb, bps
    fm_operands fm_row_major(const float *A, int lda, int trans_a, const float *B, int ldb)
    fm_operands fm_packed_b(fm_operands op, const float *packed, int panel_rows)
    fm_operands fm_packed_a(fm_operands op, const float *packed, int k)
    void fm_tiles(int M, int N, int K, const fm_operands *op, const fm_tile_out *out, int portable)
    size_t fm_packed_floats(int n_in, int n_out)
    void fm_pack_rows(float *packed, const float *W, int n_in, int n_out, int row_begin, int row_end)
    size_t fm_packed_columns_floats(int n, int cols)
    void fm_pack_columns(float *packed, const float *inputs, int ld, int n, int col_begin, int cols)
    int fm_tiles_fast()

    int FM_MAX_LAYERS
    int FM_LAZY_MAX_STEPS
    int FM_MAX_PARTS
    double FM_SMALL_PRODUCT
    int FM_SMALL_PIECE_ROWS
    int FM_TILE_COLS
    enum: FM_RELU, FM_LEAKY_RELU, FM_SIGMOID, FM_TANH, FM_IDENTITY
    enum: FM_SOFTMAX_CE, FM_SIGMOID_MSE, FM_SIGMOID_CE, FM_SOFTMAX_MSE, FM_IDENTITY_MSE, FM_IDENTITY_HUBER
    float FM_HUBER_DELTA
    int fm_target_words(int head, int k)
    enum: FM_SGD, FM_ADAM
    enum: FM_OK, FM_NONFINITE_LOSS, FM_MISSING_STATE, FM_BAD_PLAN
    enum: FM_NO_UPDATE, FM_PLAIN_SGD, FM_VELOCITY_SGD, FM_GRADIENT_STEP

    ctypedef struct fm_optimizer:
        int kind
        float lr, momentum, weight_decay
        int nesterov
        float beta1, beta2, eps
        int64_t step

    ctypedef struct fm_net:
        int n_layers
        const int *sizes
        int activation
        int head
        float *params
        float *grads
        float *state1
        float *state2
        const float *dropout
        uint64_t dropout_seed
        int64_t steps
        float max_norm

    ctypedef struct fm_plan:
        int rows
        int parts
        int update
        int sparse_inputs
        int lazy_first_layer
        int by_columns
        int private_columns
        uint64_t hidden_lists
        int packed_operands
        int target_words
        int packed_first_layer
        int batch1_columns
        int stream_panels
        int forward_by_columns

    ctypedef struct fm_workspace:
        fm_plan plan
        float *buffer
        int weights_packed

    ctypedef struct fm_stats:
        double loss_sum
        int64_t correct
        int64_t rows
        int64_t steps

    int fm_all_finite(const float *x, size_t count)
    void fm_gemm(const fm_blas *blas, int trans_a, int trans_b, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
    void fm_bias_act_forward(float *z, const float *bias, int n, int m, int activation)
    void fm_act_backward(float *delta, const float *a, int n, int m, int activation)
    void fm_dense_forward(const fm_blas *blas, float *out, const float *x, const float *W,
                          const float *b, int n, int n_in, int n_out, int activation)
    void fm_dense_backward(const fm_blas *blas, float *dx, float *dW, float *db, const float *dz,
                           const float *x, const float *W, int n, int n_in, int n_out,
                           float alpha, float beta)
    void fm_head_output(float *z, int n, int k, int head)
    int fm_dropout_keeps(uint64_t seed, int64_t step, int64_t row, int layer, int unit, float rate)
    double fm_head_loss(float *z, float *dz, const int32_t *y, int n, int k, int head,
                        float scale, int64_t *correct)
    void fm_sgd_update(float *p, float *v, const float *g, size_t count, const fm_optimizer *opt)
    void fm_adam_update(float *p, float *m, float *v, const float *g, size_t count,
                        const fm_optimizer *opt, float bc1, float bc2)
    size_t fm_param_count(const int *sizes, int n_layers)
    size_t fm_workspace_size(const int *sizes, int n_layers, const fm_plan *plan)
    ctypedef struct fm_sparse:
        int n, n_in, nnz, first_row
    size_t fm_sparse_layout(fm_sparse *s, int32_t *buffer, int n_in, int max_rows, int width)
    int fm_sparse_groups_pay(int width)
    void fm_sparse_gather(fm_sparse *s, int32_t *labels, int target_words, const float *X, const int32_t *y,
                          const int64_t *rows, int64_t start, int n, int first_row)
    void fm_sparse_forward(float *out, int ld_out, const fm_sparse *x, const float *W, int ld_w,
                           const float *b, int width, int activation)
    void fm_sparse_update(float *W, float *vW, int ld_w, const fm_sparse **parts, int n_parts,
                          const float *dz, int ld_dz, int row_begin, int row_end, int width,
                          float lr, float mu, float c)
    void fm_sparse_relu_backward(float *dx, int ld_dx, const fm_sparse *x, const float *dz,
                                 int ld_dz, const float *W, int ld_w, int n_out)
    int fm_train_chunk(const fm_blas *blas, fm_net *net, fm_optimizer *opt, fm_workspace *ws,
                       const float *X, const int32_t *y, const int64_t *order, int64_t n_rows,
                       int64_t first_batch, int64_t n_batches, int n_threads, fm_stats *stats)
    double fm_loss_and_gradients(const fm_blas *blas, fm_net *net, fm_workspace *ws,
                                 const float *X, const int32_t *y, int n)
    void fm_predict(const fm_blas *blas, const fm_net *net, fm_workspace *ws, float *out,
                    const float *X, int64_t n_rows, int n_threads)
    void fm_evaluate(const fm_blas *blas, const fm_net *net, fm_workspace *ws, const float *X,
                     const int32_t *y, int64_t n_rows, int n_threads, fm_stats *stats)
