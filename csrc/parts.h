/* Internal to csrc/: a call in parts, as minibatch.c and infer.c run it. Each step (or block of
   rows) is cut in the plan's fixed number of parts; any number of threads up to that runs them,
   each a run of consecutive parts, and since the cut never depends on the thread count, the bits
   do not either. The caller holds the BLAS to one thread
   meanwhile (fastmlp/_kernels.pyx). */
#ifndef FASTMLP_PARTS_H
#define FASTMLP_PARTS_H

#include "engine.h"
#include "team.h"

// clang-format off
typedef struct {
    const fm_blas *blas;
    const fm_net *net;
    const fm_plan *plan;
    views *v;                     /* with the parts (v->parts) */
    fm_optimizer *opt;            /* its step counts Adam's steps, advanced by thread 0 */
    const float *X;
    const int32_t *y;
    const int64_t *order;
    int64_t n_rows, first_batch, n_batches;
    int rows;                     /* the plan's: rows per step or block */
    int weights_packed;           /* fm_workspace's: the packed weights are current */
    fm_team team;
    fm_stats *stats;
    int status;
    int gathers_claimed;          /* sparse inputs: parts of the next minibatches claimed for
                                     the gather so far in the call, n_parts a step */
    float *out;                   /* inference: the outputs (n_rows, s[L]), or NULL to evaluate */
    char pad[FM_CACHE_LINE];
} in_parts;
// clang-format on

/* A part's share of count rows (or weight rows, or bias columns): [part_begin, part_end). */
static inline int part_begin(const in_parts *run, int count, int index)
{
    return fm_part_begin(count, index, run->v->n_parts);
}

static inline int part_end(const in_parts *run, int count, int index)
{
    return fm_part_begin(count, index + 1, run->v->n_parts);
}

/* A thread's parts, consecutive: [first_part, last_part]. */
static inline int first_part(const in_parts *run, int thread, int n_threads)
{
    return fm_part_begin(run->v->n_parts, thread, n_threads);
}

static inline int last_part(const in_parts *run, int thread, int n_threads)
{
    return fm_part_begin(run->v->n_parts, thread + 1, n_threads) - 1;
}

/* The parts' losses and hits summed in a fixed order, so that the sum is the same for any thread
   count; returns the loss. */
static inline double parts_loss(const views *v, int64_t *correct)
{
    double loss = v->parts[0].loss;
    *correct = v->parts[0].correct;
    for (int index = 1; index < v->n_parts; index++) {
        loss += v->parts[index].loss;
        *correct += v->parts[index].correct;
    }
    return loss;
}

/* The threads that run the parts: at least one, and no more than there are parts. */
static inline int part_threads(const in_parts *run, int n_threads)
{
    return n_threads < 1 ? 1 : n_threads > run->v->n_parts ? run->v->n_parts : n_threads;
}

/* Every part's inputs of this turn, in order: the minibatch's rows as non-zeros. */
static inline void part_inputs(const fm_sparse **inputs, const views *v, int turn)
{
    for (int index = 0; index < v->n_parts; index++)
        inputs[index] = &v->parts[index].inputs[turn];
}

/* The views, the data and the parts, for a call in parts. */
void fm_parts_set_up(in_parts *run, views *v, const fm_blas *blas, const fm_net *net,
                     const fm_workspace *ws, const float *X, const int32_t *y, int64_t n_rows);
int fm_part_activation(const in_parts *run, int l);
/* Whether layer l's inputs are listed as non-zeros (the plan's hidden_lists). */
int fm_lists_inputs(const in_parts *run, int l);
/* Whether nnz non-zeros of rows x n_in inputs are few enough for the sparse kernels. */
int fm_mostly_zeros(int64_t nnz, int rows, int n_in);
/* Layer l >= 1's forward pass over rows [r0, r0 + m) of acts[l] into out: listed as non-zeros
   first where the plan says, and summed as such when mostly zeros. Returns 0, having written no
   output, where the GEMM is to take them instead. */
int fm_sparse_hidden_forward(const in_parts *run, part *mine, float *out, int l, int r0, int m);
/* Layer l's forward pass over m rows, in into out: from its packed weights where the plan packs
   them, through the BLAS table otherwise. */
void fm_part_dense_forward(const in_parts *run, float *out, const float *in, int l, int m);
/* This part's rows of layer l's weights packed, where the plan packs them: at a call's start, and
   after each step of them, so that the next step's forward passes read them packed. */
void fm_pack_part(const in_parts *run, int index, int l);
/* ... every packed layer's. */
void fm_pack_part_layers(const in_parts *run, int index);
/* dx (m, n_in) = dl (m, n_out) W^T, W (n_in, n_out), fast on small products. */
void fm_backward_product(const fm_blas *blas, float *dx, const float *dl, const float *W, int m,
                         int n_in, int n_out, float *scratch);
/* C (rows, n_out) = alpha in^T dz + beta C: the weight gradient of `rows` weight rows, from in
   (n, rows), rows ld_in apart, and dz (n, n_out). */
void fm_weight_gradient(const fm_blas *blas, const part *mine, float *C, const float *in, int ld_in,
                        const float *dz, int n, int rows, int n_out, float alpha, float beta);

/* ---- the first layer by columns (columns.c) ---- */
/* This part's columns of the first layer's outputs, for every row of the minibatch. */
void fm_first_layer_columns(in_parts *run, int index, int turn);
/* ... over dense inputs x (n, s[0]), from the layer's panels (the plan's forward_by_columns). */
void fm_dense_first_layer_columns(const in_parts *run, int index, const float *x, int n);
/* One SGD step on this part's columns of the first layer, bias included. */
void fm_update_first_layer_columns(in_parts *run, int index, int n, int turn);

#endif
