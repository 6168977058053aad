/* Minibatch training (fm_train_split) and blocked inference (fm_infer_split) on two threads,
   and the layout of their buffers in the workspace (fm_split_size, carve).

   Each step is cut in two fixed halves that two threads run at once: the minibatch's rows for the
   forward pass, the loss and the deltas; then, after a barrier, each layer's weight rows for the
   update (a weight row's gradient touches only that row). The cut never depends on the thread
   count, so one thread running both halves gets the same bits; the caller holds the BLAS to one
   thread meanwhile (fastmlp/_kernels.pyx). With SGD over mostly-zero inputs (sparse.c) the first
   layer is cut by its output columns instead, each half on a private copy of its columns, so that
   neither core reads lines the other has just written. Where the BLAS has no small-matrix kernels,
   the layer after a ReLU skips the zeros it is handed, as the first layer does (with them the GEMMs
   are faster, and fastmlp/model.py gives no room for the lists). Inference cuts each block of rows
   the same way; its halves meet only at the end. Measurements: benchmarks/README.md. */
#include <math.h>
#include <string.h>

#include "team.h"
#include "views.h"

#define PARTS 2

/* What each half writes during a step sits on cache lines of its own, so that the two threads
   never write neighbouring words (false sharing). */
#define CACHE_LINE 64
typedef struct {
    fm_sparse inputs[2];          /* this half of the minibatch as non-zeros, when sparse: this
                                     step's and the next one's, in turns */
    fm_sparse hidden[FM_MAX_LAYERS];  /* [l], l >= 1: this half's rows of layer l's inputs (a
                                         hidden layer's outputs) as non-zeros, with hidden_lists */
    int col_begin, width;         /* by columns: this half's columns of the first layer */
    float *block;                 /* by columns, private: (s[0] + 1, ld), weights then bias */
    float *velocity_block;        /* by columns, private: the same for their velocity */
    float *weights, *bias;        /* by columns: the half's weights, rows ld apart, and bias:
                                     in its block, or in place in the network */
    float *v_weights, *v_bias;    /* their velocity, or NULL */
    int ld;                       /* in the block: width rounded up to whole cache lines */
    float *scratch;               /* (2 * widest hidden layer, rows of a half): backward_product,
                                     weight_gradient */
    size_t scratch_floats;
    double loss;                  /* this step's loss summed over this half's rows */
    int64_t correct;
    char pad[CACHE_LINE];
} half;

typedef struct {
    const fm_blas *blas;
    const fm_net *net;
    views *v;
    fm_optimizer *opt;            /* its step counts Adam's steps, advanced by thread 0 */
    const float *X;
    const int32_t *y;
    const int64_t *order;
    int64_t n_rows, first_batch, n_batches;
    int batch_size;
    int sparse;                   /* the first layer reads the inputs as non-zeros */
    int sparse_hidden;            /* layers after a ReLU may read their inputs as non-zeros */
    int by_columns;               /* ... and is cut by its columns (SGD) */
    int velocity;                 /* SGD keeps a velocity (momentum or weight decay) */
    float *delta[FM_MAX_LAYERS];  /* (max_rows, s[l + 1]): loss gradient at layer l's pre-activation */
    fm_team team;
    fm_stats *stats;
    int status;
    int gathers_claimed;          /* sparse: halves of the next minibatches claimed for the
                                     gather so far in the call, two a step */
    float *out;                   /* inference: the outputs (n_rows, s[L]), or NULL to evaluate */
    char pad[CACHE_LINE];
    half halves[PARTS];
} split;

static int half_begin(int count, int part)
{
    return part == 0 ? 0 : count / 2;
}

static int half_end(int count, int part)
{
    return part == 0 ? count / 2 : count;
}

/* Where the first layer's columns are cut: near the middle, on a whole vector of 8 floats where
   the layer is that wide. */
static int column_cut(int n_out)
{
    int cut = n_out / 2 - (n_out / 2) % 8;
    return cut > 0 ? cut : n_out / 2;
}

/* A private block's row length: its width rounded up to whole cache lines. */
static int block_ld(int width)
{
    return (width + FM_ALIGN - 1) / FM_ALIGN * FM_ALIGN;
}

/* The widest layer after the input: the widest operand of the backward products. */
static int widest_hidden(const int *sizes, int n_layers)
{
    int widest = 1;
    for (int l = 1; l <= n_layers; l++)
        widest = sizes[l] > widest ? sizes[l] : widest;
    return widest;
}

size_t fm_split_size(const int *sizes, int n_layers, int max_rows, int sparse,
                     int private_columns, int hidden_lists)
{
    size_t floats = 0;
    for (int l = 1; l <= n_layers; l++)
        floats += (size_t)max_rows * sizes[l];
    floats += PARTS * 2 * (size_t)widest_hidden(sizes, n_layers) * (max_rows - max_rows / 2);
    for (int l = 1; l < n_layers && hidden_lists; l++)
        floats += PARTS * fm_sparse_size(sizes[l], max_rows - max_rows / 2);
    if (sparse)
        floats += 2 * PARTS * fm_sparse_size(sizes[0], max_rows - max_rows / 2);
    if (sparse && private_columns) {  /* the blocks and their velocity */
        int cut = column_cut(sizes[1]);
        floats += 2 * ((size_t)sizes[0] + 1) * (block_ld(cut) + block_ld(sizes[1] - cut));
    }
    size_t regions = (size_t)n_layers * (1 + PARTS) + PARTS + 2 * PARTS + 2 * PARTS + 1;  /* carve, and the start */
    return floats + FM_ALIGN * regions;
}

static void carve(split *sp, const fm_workspace *ws)
{
    const views *v = sp->v;
    float *p = ws->split;
    int part_rows = ws->max_rows - ws->max_rows / 2, cut = column_cut(v->s[1]);
    for (int l = 0; l < v->L; l++) {
        sp->delta[l] = p = fm_aligned(p);
        p += (size_t)ws->max_rows * v->s[l + 1];
    }
    for (int part = 0; part < PARTS; part++) {
        sp->halves[part].scratch = p = fm_aligned(p);
        sp->halves[part].scratch_floats = 2 * (size_t)widest_hidden(v->s, v->L) * part_rows;
        p += sp->halves[part].scratch_floats;
        for (int l = 1; l < v->L && ws->hidden_lists; l++) {
            p = fm_aligned(p);
            fm_sparse_init(&sp->halves[part].hidden[l], (int32_t *)p, v->s[l], part_rows, v->s[l + 1]);
            p += fm_sparse_size(v->s[l], part_rows);
        }
    }
    if (!sp->sparse)
        return;
    for (int part = 0; part < PARTS; part++) {
        half *h = &sp->halves[part];
        for (int turn = 0; turn < 2; turn++) {
            p = fm_aligned(p);
            /* the wider half of the first layer's columns, which by columns is the widest
               forward pass over these rows */
            fm_sparse_init(&h->inputs[turn], (int32_t *)p, v->s[0], part_rows, v->s[1] - cut);
            p += fm_sparse_size(v->s[0], part_rows);
        }
        h->col_begin = part == 0 ? 0 : cut;
        h->width = part == 0 ? cut : v->s[1] - cut;
    }
    for (int part = 0; part < PARTS && ws->private_columns; part++) {
        half *h = &sp->halves[part];
        size_t floats = ((size_t)v->s[0] + 1) * block_ld(h->width);
        h->block = p = fm_aligned(p);
        h->velocity_block = fm_aligned(p + floats);
        p = h->velocity_block + floats;
    }
}

/* By columns: where each half finds its weights, bias and their velocity. In a private block,
   copied in at the start of the call and back at its end, so that the prefetchers of the two
   cores do not fetch each other's halves of the shared rows; in place where the workspace has no
   room for the blocks (a first layer too big for the caches anyway). */
static void point_columns(split *sp)
{
    const views *v = sp->v;
    for (int part = 0; part < PARTS; part++) {
        half *h = &sp->halves[part];
        if (h->block != NULL) {
            size_t bias_at = (size_t)v->s[0] * block_ld(h->width);
            h->weights = h->block;
            h->bias = h->block + bias_at;
            h->v_weights = sp->velocity ? h->velocity_block : NULL;
            h->v_bias = sp->velocity ? h->velocity_block + bias_at : NULL;
            h->ld = block_ld(h->width);
        } else {
            h->weights = v->W[0] + h->col_begin;
            h->bias = v->b[0] + h->col_begin;
            h->v_weights = sp->velocity ? v->vW[0] + h->col_begin : NULL;
            h->v_bias = sp->velocity ? v->vb[0] + h->col_begin : NULL;
            h->ld = v->s[1];
        }
    }
}

/* By columns: this half's columns of the first layer (weights, bias, velocity) copied into its
   block, or back out of it. */
static void copy_columns(float *block, int ld, float *W, float *b, int n_in, int n_out,
                         int col_begin, int width, int back)
{
    for (int j = 0; j <= n_in; j++) {
        float *shared = (j < n_in ? W + (size_t)j * n_out : b) + col_begin;
        float *mine = block + (size_t)j * ld;
        memcpy(back ? shared : mine, back ? mine : shared, sizeof(float) * width);
    }
}

static void move_columns(split *sp, int part, int back)
{
    const views *v = sp->v;
    half *h = &sp->halves[part];
    if (h->block == NULL)  /* in place */
        return;
    copy_columns(h->block, h->ld, v->W[0], v->b[0], v->s[0], v->s[1], h->col_begin, h->width,
                 back);
    if (sp->velocity)
        copy_columns(h->velocity_block, h->ld, v->vW[0], v->vb[0], v->s[0], v->s[1], h->col_begin,
                     h->width, back);
}

/* The minibatch's input rows, as the first layer reads them when it is dense: gathered into the
   workspace when shuffled, else read in place. */
static const float *dense_inputs(const split *sp, int64_t start)
{
    return sp->order != NULL ? sp->v->acts[0] : sp->X + (size_t)start * sp->v->s[0];
}

static const int32_t *labels_of(const split *sp, int64_t start)
{
    return sp->order != NULL || sp->sparse ? sp->v->labels : sp->y + start;
}

/* This half of the minibatch's rows into the workspace (sparse: into inputs[turn]), when shuffled
   or sparse; a dense first layer reads them in place otherwise. */
/* Where the m rows from r0 of the minibatch at `start` come from in X: their entries of the
   shuffled order, or NULL when they are read in order (or there are none). */
static const int64_t *rows_in_order(const split *sp, int64_t start, int r0, int m)
{
    return sp->order != NULL && m > 0 ? sp->order + start + r0 : NULL;
}

static void gather_half(split *sp, int part, int64_t start, int n, int turn)
{
    int r0 = half_begin(n, part), m = half_end(n, part) - r0;
    const int64_t *rows = rows_in_order(sp, start, r0, m);
    if (sp->sparse)  /* even when empty: the update reads both halves */
        fm_sparse_gather(&sp->halves[part].inputs[turn], sp->v->labels + r0, sp->X, sp->y, rows,
                         start + r0, m, r0);
    else if (rows != NULL)
        fm_gather_rows(sp->v->acts[0] + (size_t)r0 * sp->v->s[0], sp->v->labels + r0, sp->X, sp->y,
                       rows, m, sp->v->s[0]);
}

static int activation_of(const split *sp, int l)
{
    return l == sp->v->L - 1 ? FM_IDENTITY : sp->net->activation;
}

/* Above this share of non-zero inputs, a hidden layer's rows go to the GEMMs: the sparse kernels
   are for skipping zeros, not GEMMs of our own. */
#define SPARSE_HIDDEN_MAX_SHARE 0.5

/* ... and below this many outputs, the layer too: the sparse kernels keep 64 output columns in
   registers, and on narrower layers lose to the GEMM. */
#define SPARSE_HIDDEN_MIN_OUTPUTS 64

static int mostly_zeros(int64_t nnz, int rows, int n_in)
{
    return nnz <= SPARSE_HIDDEN_MAX_SHARE * rows * n_in;
}

/* Whether each half lists layer l's inputs as non-zeros, for its passes to choose from. */
static int lists_inputs(const split *sp, int l)
{
    return sp->sparse_hidden && l >= 1 && sp->v->s[l + 1] >= SPARSE_HIDDEN_MIN_OUTPUTS;
}

/* Layer l >= 1's forward pass over rows [r0, r0 + m) of its inputs (the workspace's acts[l]):
   they are listed as non-zeros in the half's hidden[l] (for the update too), and when mostly
   zeros, summed as such into those rows of acts[l + 1]. Returns 0, having written no output,
   where the GEMM is to take them instead. */
static int sparse_hidden_forward(const split *sp, half *mine, float *out, int l, int r0, int m)
{
    const views *v = sp->v;
    int n_in = v->s[l], n_out = v->s[l + 1];
    if (!lists_inputs(sp, l))
        return 0;
    fm_sparse *x = &mine->hidden[l];
    fm_sparse_gather(x, NULL, v->acts[l], NULL, NULL, r0, m, r0);
    if (!mostly_zeros(x->nnz, m, n_in))
        return 0;
    fm_sparse_forward(out, n_out, x, v->W[l], n_out, v->b[l], n_out, activation_of(sp, l));
    return 1;
}

/* Layer l >= 1's inputs for the whole minibatch as both halves listed them, when the update may
   read them as non-zeros (nothing else listed in their place since the forward pass): returns
   0 where the GEMM is to take the weight gradient instead. */
static int hidden_inputs(const fm_sparse **inputs, split *sp, int l, int n)
{
    if (!lists_inputs(sp, l))
        return 0;
    int64_t nnz = 0;
    for (int part = 0; part < PARTS; part++) {
        inputs[part] = &sp->halves[part].hidden[l];
        nnz += inputs[part]->nnz;
    }
    return mostly_zeros(nnz, n, sp->v->s[l]);
}

/* By columns: this half's columns of the first layer's outputs, for every row. */
static void first_layer_columns(split *sp, int part, int turn)
{
    const views *v = sp->v;
    const half *mine = &sp->halves[part];
    for (int h = 0; h < PARTS; h++) {
        const fm_sparse *x = &sp->halves[h].inputs[turn];
        fm_sparse_forward(v->acts[1] + (size_t)x->first_row * v->s[1] + mine->col_begin, v->s[1],
                          x, mine->weights, mine->ld, mine->bias, mine->width,
                          activation_of(sp, 0));
    }
}

/* dx (m, n_in) = dl (m, n_out) W^T, W (n_in, n_out), for OpenBLAS's small-matrix kernels
   (fm_gemm_rows): in pieces of rows small enough for them, each taken as dx^T = W dl^T between
   transposed copies of its two small operands, since the kernels take A B but not A B^T. A BLAS
   without those kernels (OpenBLAS's Haswell set) gets the whole product the same way: it packs
   A B faster than A B^T there too. */
static void backward_product(const split *sp, float *dx, const float *dl, const float *W, int m,
                             int n_in, int n_out, float *scratch)
{
    int piece = sp->blas->small_kernels ? fm_small_rows(sp->blas, m, n_in, n_out) : m;
    if (piece == 0) {  /* too wide for the small kernels */
        fm_gemm(sp->blas, 0, 1, m, n_in, n_out, 1.0f, dl, n_out, W, n_out, 0.0f, dx, n_in);
        return;
    }
    for (int r = 0; r < m; r += piece) {
        int rows = m - r < piece ? m - r : piece;
        float *dl_t = scratch, *dx_t = scratch + (size_t)n_out * rows;
        fm_transpose(dl_t, dl + (size_t)r * n_out, rows, n_out);
        fm_gemm(sp->blas, 0, 0, n_in, rows, n_out, 1.0f, W, n_out, dl_t, rows, 0.0f, dx_t, rows);
        fm_transpose(dx + (size_t)r * n_in, dx_t, n_in, rows);
    }
}

/* C (rows, n_out) = alpha in^T dz + beta C: the weight gradient of `rows` weight rows, from in
   (n, rows), rows ld_in apart, and dz (n, n_out). A product too big for OpenBLAS's small kernels
   goes to them in pieces after all, from a transposed copy of in (A^T B is not a form they
   take): the pieces outrun the whole product. */
static void weight_gradient(const split *sp, half *mine, float *C, const float *in, int ld_in,
                            const float *dz, int n, int rows, int n_out, float alpha, float beta)
{
    /* small as a whole, A^T B runs as fast as A B: no copy then */
    int piece = fm_small_rows(sp->blas, rows, n_out, n);
    if (piece == rows || piece == 0 || (size_t)rows * n > mine->scratch_floats) {
        fm_gemm(sp->blas, 1, 0, rows, n_out, n, alpha, in, ld_in, dz, n_out, beta, C, n_out);
        return;
    }
    fm_transpose_ld(mine->scratch, in, n, rows, ld_in);
    fm_gemm_rows(sp->blas, rows, n_out, n, alpha, mine->scratch, n, dz, n_out, beta, C, n_out);
}

/* Rows [r0, r1) of the minibatch: (when dense, the gather) the forward pass (by columns, from the
   second layer on), the loss, and the deltas back to layer 0. */
static void forward_backward_half(split *sp, int part, int64_t start, int n, int turn)
{
    const views *v = sp->v;
    const fm_blas *blas = sp->blas;
    int L = v->L, k = v->s[L], activation = sp->net->activation;
    int r0 = half_begin(n, part), m = half_end(n, part) - r0;
    half *mine = &sp->halves[part];
    mine->loss = 0.0;
    mine->correct = 0;
    if (!sp->sparse)
        gather_half(sp, part, start, n, 0);
    if (m == 0) {  /* no hidden rows either: the update reads both halves' lists */
        for (int l = 1; l < L; l++)
            if (lists_inputs(sp, l))
                fm_sparse_gather(&mine->hidden[l], NULL, v->acts[l], NULL, NULL, r0, 0, r0);
        return;
    }
    for (int l = sp->by_columns ? 1 : 0; l < L; l++) {
        float *out = v->acts[l + 1] + (size_t)r0 * v->s[l + 1];
        const float *in = (l == 0 ? dense_inputs(sp, start) : v->acts[l]) + (size_t)r0 * v->s[l];
        if (l == 0 && sp->sparse)
            fm_sparse_forward(out, v->s[1], &mine->inputs[turn], v->W[0], v->s[1], v->b[0],
                              v->s[1], activation_of(sp, 0));
        else if (!sparse_hidden_forward(sp, mine, out, l, r0, m))
            fm_dense_forward(blas, out, in, v->W[l], v->b[l], m, v->s[l], v->s[l + 1],
                             activation_of(sp, l));
    }
    mine->loss = fm_head_loss(v->acts[L] + (size_t)r0 * k, sp->delta[L - 1] + (size_t)r0 * k,
                              labels_of(sp, start) + r0, m, k, sp->net->head, 1.0f / n,
                              &mine->correct);
    for (int l = L - 1; l >= 1; l--) {
        int n_in = v->s[l], n_out = v->s[l + 1];
        float *dx = sp->delta[l - 1] + (size_t)r0 * n_in;
        const float *dl = sp->delta[l] + (size_t)r0 * n_out;
        if (lists_inputs(sp, l) && mostly_zeros(mine->hidden[l].nnz, m, n_in)) {
            /* only the products ReLU lets through */
            fm_sparse_relu_backward(dx, n_in, &mine->hidden[l], dl, n_out, v->W[l], n_out, n_out);
            continue;
        }
        backward_product(sp, dx, dl, v->W[l], m, n_in, n_out, mine->scratch);
        fm_act_backward(dx, v->acts[l] + (size_t)r0 * n_in, m, n_in, activation);
    }
}

/* By columns: one SGD step on this half's block of the first layer, bias included. */
static void update_first_layer_columns(split *sp, int part, int n, int turn)
{
    const views *v = sp->v;
    const fm_optimizer *opt = sp->opt;
    float lr = opt->lr, mu = opt->momentum, c = -opt->lr * opt->weight_decay;
    half *mine = &sp->halves[part];
    const float *dz = sp->delta[0] + mine->col_begin;
    const fm_sparse *inputs[PARTS] = {&sp->halves[0].inputs[turn], &sp->halves[1].inputs[turn]};
    fm_bias_step(mine->bias, mine->v_bias, dz, n, v->s[1], mine->width, lr, mu, c);
    fm_sparse_update(mine->weights, mine->v_weights, mine->ld, inputs, PARTS, dz, v->s[1], 0,
                     v->s[0], mine->width, lr, mu, c);
}

/* Weight rows [j0, j1) and bias columns [t0, t1) of every layer (by columns, the first layer's
   block instead): one SGD step. */
static void update_half(split *sp, int part, int64_t start, int n, int turn)
{
    const views *v = sp->v;
    const fm_optimizer *opt = sp->opt;
    int velocity = sp->velocity;
    float lr = opt->lr, mu = opt->momentum, c = -opt->lr * opt->weight_decay;
    for (int l = 0; l < v->L; l++) {
        if (l == 0 && sp->by_columns) {
            update_first_layer_columns(sp, part, n, turn);
            continue;
        }
        int n_in = v->s[l], n_out = v->s[l + 1];
        int j0 = half_begin(n_in, part), rows = half_end(n_in, part) - j0;
        int t0 = half_begin(n_out, part), t1 = half_end(n_out, part);
        float *w = v->W[l] + (size_t)j0 * n_out;
        float *vw = velocity ? v->vW[l] + (size_t)j0 * n_out : NULL;
        fm_bias_step(v->b[l] + t0, velocity ? v->vb[l] + t0 : NULL, sp->delta[l] + t0, n, n_out,
                     t1 - t0, lr, mu, c);
        if (rows == 0)
            continue;
        const fm_sparse *inputs[PARTS];
        if (hidden_inputs(inputs, sp, l, n)) {  /* summed over the non-zeros, as the first layer */
            fm_sparse_update(v->W[l], velocity ? v->vW[l] : NULL, n_out, inputs, PARTS,
                             sp->delta[l], n_out, j0, j0 + rows, n_out, lr, mu, c);
            continue;
        }
        const float *in = (l == 0 ? dense_inputs(sp, start) : v->acts[l]) + j0;
        size_t count = (size_t)rows * n_out;
        /* v = mu v + c w, then v -= lr g straight from the GEMM, then w += v; without weight
           decay the GEMM scales v by mu itself, as it writes (no pass of its own over v) */
        float beta = 1.0f;
        if (velocity && c == 0.0f)
            beta = mu;
        else if (velocity)
            fm_decay_velocity(vw, w, count, mu, c);
        weight_gradient(sp, &sp->halves[part], velocity ? vw : w, in, n_in, sp->delta[l], n, rows,
                        n_out, -lr, beta);
        if (velocity)
            fm_add_inplace(w, vw, count);
    }
}

/* Adam and Nesterov momentum need the gradient itself: this half's weight rows and bias columns
   of it into the gradient buffer, then the optimizer's step on them. */
static void gradient_update_half(split *sp, int part, int64_t start, int n, int turn)
{
    const views *v = sp->v;
    const fm_optimizer *opt = sp->opt;
    double t = (double)opt->step + 1.0;  /* thread 0 counts the step after the last barrier */
    float bc1 = (float)(1.0 - pow(opt->beta1, t)), bc2 = (float)(1.0 - pow(opt->beta2, t));
    for (int l = 0; l < v->L; l++) {
        int n_in = v->s[l], n_out = v->s[l + 1];
        int j0 = half_begin(n_in, part), rows = half_end(n_in, part) - j0;
        int t0 = half_begin(n_out, part), width = half_end(n_out, part) - t0;
        size_t at = (size_t)j0 * n_out, count = (size_t)rows * n_out;
        const float *dz = sp->delta[l];
        float *gb = v->gb[l] + t0;
        for (int c = 0; c < width; c++)
            gb[c] = 0.0f;
        for (int r = 0; r < n; r++)
            for (int c = 0; c < width; c++)
                gb[c] += dz[(size_t)r * n_out + t0 + c];
        const fm_sparse *inputs[PARTS] = {&sp->halves[0].inputs[turn],
                                          &sp->halves[1].inputs[turn]};
        if ((l == 0 && sp->sparse) || hidden_inputs(inputs, sp, l, n)) {
            fm_sparse_gradient(v->gW[l], inputs, PARTS, dz, n_out, j0, j0 + rows);
        } else if (rows > 0) {
            const float *in = (l == 0 ? dense_inputs(sp, start) : v->acts[l]) + j0;
            weight_gradient(sp, &sp->halves[part], v->gW[l] + at, in, n_in, dz, n, rows, n_out, 1.0f,
                            0.0f);
        }
        if (opt->kind == FM_ADAM) {
            float *mb = v->mW[l] + (size_t)n_in * n_out + t0;  /* the bias after W in the span */
            fm_adam_update(v->W[l] + at, v->vW[l] + at, v->mW[l] + at, v->gW[l] + at, count, opt,
                           bc1, bc2);
            fm_adam_update(v->b[l] + t0, v->vb[l] + t0, mb, gb, width, opt, bc1, bc2);
        } else {
            fm_sgd_update(v->W[l] + at, v->vW[l] + at, v->gW[l] + at, count, opt);
            fm_sgd_update(v->b[l] + t0, v->vb[l] + t0, gb, width, opt);
        }
    }
}

/* The next minibatch's two halves are gathered by whichever thread is free first: a thread done
   with its update takes the next half nobody has taken, so the other, held up by a slower
   update, does not keep it waiting at the barrier. Who gathers a half never changes what it
   holds. */
static void gather_next(split *sp, int step, int64_t start, int n, int turn)
{
#if !defined(_WIN32)
    int claimed = __atomic_load_n(&sp->gathers_claimed, __ATOMIC_RELAXED);
    while (claimed < PARTS * (step + 1)) {
        if (__atomic_compare_exchange_n(&sp->gathers_claimed, &claimed, claimed + 1, 0,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            gather_half(sp, claimed - PARTS * step, start, n, turn);
            claimed = __atomic_load_n(&sp->gathers_claimed, __ATOMIC_RELAXED);
        }
    }
#else  /* one thread runs the team there (team.c) */
    (void)step;
    for (int part = 0; part < PARTS; part++)
        gather_half(sp, part, start, n, turn);
#endif
}

/* The next minibatch's half of rows, fetched towards the caches a step before gather_next reads
   them: shuffled, they come from anywhere in X, mostly from memory, and the gather waited on
   them. Whoever gathers the half later, the lines are near: in this core's L2 cache, or in the
   L3 cache both cores share. */
static void prefetch_next_half(const split *sp, int part, int64_t start, int n)
{
    int r0 = half_begin(n, part), m = half_end(n, part) - r0;
    fm_sparse_prefetch(sp->X, rows_in_order(sp, start, r0, m), start + r0, m, sp->v->s[0]);
}

static void count_step(split *sp, double loss, int64_t correct, int n)
{
    sp->stats->loss_sum += loss;
    sp->stats->correct += correct;
    sp->stats->rows += n;
    sp->stats->steps += 1;
    if (sp->opt->kind == FM_ADAM)
        sp->opt->step += 1;
}

static void run_thread(void *arg, int thread, int n_threads)
{
    split *sp = arg;
    /* one thread does both halves, each of two threads its own */
    int first = n_threads == 1 ? 0 : thread, last = n_threads == 1 ? PARTS - 1 : thread;
    int64_t end = sp->first_batch + sp->n_batches;
    int gradient = sp->opt->kind == FM_ADAM || sp->opt->nesterov;
    if (sp->sparse) {  /* the first minibatch's inputs; the next ones are gathered a step ahead */
        int n = fm_rows_in_batch(sp->n_rows, sp->batch_size, sp->first_batch);
        for (int part = first; part <= last; part++) {
            if (sp->by_columns)
                move_columns(sp, part, 0);
            gather_half(sp, part, sp->first_batch * sp->batch_size, n, 0);
        }
        fm_team_barrier(&sp->team);
    }
    for (int64_t batch = sp->first_batch; batch < end; batch++) {
        int64_t start = batch * sp->batch_size;
        int n = fm_rows_in_batch(sp->n_rows, sp->batch_size, batch);
        int turn = (int)((batch - sp->first_batch) % 2);
        if (n == 0)
            break;
        if (sp->sparse && batch + 1 < end)
            for (int part = first; part <= last; part++)
                prefetch_next_half(sp, part, start + sp->batch_size,
                                   fm_rows_in_batch(sp->n_rows, sp->batch_size, batch + 1));
        if (sp->by_columns) {  /* a third barrier; the gather a step ahead needs none */
            for (int part = first; part <= last; part++)
                first_layer_columns(sp, part, turn);
            fm_team_barrier(&sp->team);
        }
        for (int part = first; part <= last; part++)
            forward_backward_half(sp, part, start, n, turn);
        fm_team_barrier(&sp->team);
        /* both threads read the same sums, so both stop on a non-finite loss */
        double loss = sp->halves[0].loss + sp->halves[1].loss;
        int64_t correct = sp->halves[0].correct + sp->halves[1].correct;
        if (!isfinite(loss)) {
            if (thread == 0)
                sp->status = FM_NONFINITE_LOSS;
            break;
        }
        for (int part = first; part <= last; part++) {
            if (gradient)
                gradient_update_half(sp, part, start, n, turn);
            else
                update_half(sp, part, start, n, turn);
        }
        if (sp->sparse && batch + 1 < end)  /* the other turn's inputs are free again */
            gather_next(sp, (int)(batch - sp->first_batch), start + sp->batch_size,
                        fm_rows_in_batch(sp->n_rows, sp->batch_size, batch + 1), 1 - turn);
        fm_team_barrier(&sp->team);
        if (thread == 0)
            count_step(sp, loss, correct, n);
    }
    for (int part = first; part <= last && sp->by_columns; part++)
        move_columns(sp, part, 1);  /* no one reads the first layer's weights until the call ends */
}

/* What training and inference both set up: the views, the data and the workspace's buffers. */
static void set_up(split *sp, views *v, const fm_blas *blas, const fm_net *net,
                   const fm_workspace *ws, const float *X, const int32_t *y, int64_t n_rows,
                   int sparse_inputs)
{
    fm_make_views(v, net, ws);
    sp->blas = blas;
    sp->net = net;
    sp->v = v;
    sp->X = X;
    sp->y = y;
    sp->n_rows = n_rows;
    sp->sparse = sparse_inputs && ws->sparse;
    sp->sparse_hidden = ws->hidden_lists && net->activation == FM_RELU;
    sp->status = FM_OK;
    carve(sp, ws);
}

int fm_train_split(const fm_blas *blas, const fm_net *net, fm_optimizer *opt,
                   const fm_workspace *ws, const float *X, const int32_t *y, const int64_t *order,
                   int64_t n_rows, int batch_size, int64_t first_batch, int64_t n_batches,
                   int sparse_inputs, int n_threads, fm_stats *stats)
{
    views v;
    split sp = {0};
    set_up(&sp, &v, blas, net, ws, X, y, n_rows, sparse_inputs);
    sp.opt = opt;
    sp.order = order;
    sp.batch_size = batch_size;
    sp.first_batch = first_batch;
    sp.n_batches = n_batches;
    sp.stats = stats;
    sp.velocity = opt->momentum != 0.0f || opt->weight_decay != 0.0f;
    sp.by_columns = sp.sparse && opt->kind != FM_ADAM && !opt->nesterov;
    if (sp.by_columns)
        point_columns(&sp);
    fm_team_run(&sp.team, run_thread, &sp, n_threads);
    return sp.status;
}

/* ---- inference ---- */

/* One half of the block of rows [start, start + n): forward, then the outputs (sp->out) or the
   loss and hits added to the half's tallies. The threads do not wait for each other between
   blocks, so each half keeps to its own rows of the workspace, [w0, w0 + m), whatever the size
   of the block (the last one is shorter). */
static void infer_half(split *sp, int part, int64_t start, int n)
{
    const views *v = sp->v;
    int L = v->L, k = v->s[L], activation = sp->net->activation;
    int r0 = half_begin(n, part), m = half_end(n, part) - r0, w0 = part * (sp->batch_size / 2);
    half *mine = &sp->halves[part];
    if (m == 0)
        return;
    float *logits = sp->out != NULL ? sp->out + (size_t)(start + r0) * k
                                    : v->acts[L] + (size_t)w0 * k;
    if (sp->sparse)
        fm_sparse_gather(&mine->inputs[0], v->labels + w0, sp->X, NULL, NULL, start + r0, m, w0);
    for (int l = 0; l < L; l++) {
        float *dst = l == L - 1 ? logits : v->acts[l + 1] + (size_t)w0 * v->s[l + 1];
        int act = l == L - 1 ? FM_IDENTITY : activation;
        const float *in = l == 0 ? sp->X + (size_t)(start + r0) * v->s[0]
                                 : v->acts[l] + (size_t)w0 * v->s[l];
        if (l == 0 && sp->sparse)
            fm_sparse_forward(dst, v->s[1], &mine->inputs[0], v->W[0], v->s[1], v->b[0], v->s[1],
                              act);
        else if (!sparse_hidden_forward(sp, mine, dst, l, w0, m))
            fm_dense_forward(sp->blas, dst, in, v->W[l], v->b[l], m, v->s[l], v->s[l + 1], act);
    }
    if (sp->out != NULL)
        fm_head_output(logits, m, k, sp->net->head);
    else
        mine->loss += fm_head_loss(logits, NULL, sp->y + start + r0, m, k, sp->net->head, 1.0f,
                                   &mine->correct);
}

static void infer_thread(void *arg, int thread, int n_threads)
{
    split *sp = arg;
    int first = n_threads == 1 ? 0 : thread, last = n_threads == 1 ? PARTS - 1 : thread;
    int block = sp->batch_size;
    for (int64_t start = 0; start < sp->n_rows; start += block) {
        int n = (int)(sp->n_rows - start < block ? sp->n_rows - start : block);
        for (int part = first; part <= last; part++)
            infer_half(sp, part, start, n);
    }
}

void fm_infer_split(const fm_blas *blas, const fm_net *net, const fm_workspace *ws, float *out,
                    const float *X, const int32_t *y, int64_t n_rows, int sparse_inputs,
                    int n_threads, fm_stats *stats)
{
    views v;
    split sp = {0};
    set_up(&sp, &v, blas, net, ws, X, y, n_rows, sparse_inputs);
    for (int part = 0; part < PARTS; part++) {  /* no weight gradient: no lists by columns,
                                                   which would cost time for nothing */
        sp.halves[part].inputs[0].columns = 0;
        for (int l = 1; l < v.L; l++)
            sp.halves[part].hidden[l].columns = 0;
    }
    sp.batch_size = ws->max_rows;  /* rows per block */
    sp.out = out;
    fm_team_run(&sp.team, infer_thread, &sp, n_threads);
    if (out == NULL) {  /* the halves' sums in a fixed order: the same for any thread count */
        stats->loss_sum += sp.halves[0].loss + sp.halves[1].loss;
        stats->correct += sp.halves[0].correct + sp.halves[1].correct;
        stats->rows += n_rows;
    }
}
