/* Internal to csrc/: where a call finds the network's parameters and its workspace's buffers
   (views, laid out by layout.c), and the passes the engines share. */
#ifndef FASTMLP_ENGINE_H
#define FASTMLP_ENGINE_H

#include "fastmlp.h"

/* What threads write during a step sits on cache lines of its own, so that two threads never
   write neighbouring words (false sharing). */
#define FM_CACHE_LINE 64
/* Floats in a cache line: each region of the workspace starts on one, so that rows of 16-float
   multiples keep whole lines and an AVX-512 load never straddles two (which slows the sparse
   first layer's kernels). */
#define FM_ALIGN 16

/* One part of a step or a block in parts: its rows, and by columns its first-layer columns. The
   parts live in the workspace, each on cache lines of its own. */
// clang-format off
typedef struct {
    fm_sparse inputs[2];          /* sparse inputs: this part's rows as non-zeros, this step's
                                     and the next one's, in turns */
    fm_sparse *hidden;            /* (L,): [l] in the plan's hidden_lists, this part's rows of
                                     layer l's inputs as non-zeros */
    int col_begin, width;         /* by columns: this part's columns of the first layer */
    int ld;                       /* in the private block: width rounded up to whole lines */
    float *block;                 /* private columns: (s[0] + 1, ld), weights then bias */
    float *velocity_block;        /* ... the same for their velocity (velocity SGD) */
    float *weights, *bias;        /* by columns: the part's weights, rows ld apart, and bias,
                                     in its block or in place in the network */
    float *v_weights, *v_bias;    /* their velocity, or NULL */
    float *scratch;               /* (2 * widest layer, rows of a part): transposed operands */
    float *packed_inputs;         /* packed operands with SGD: this part's columns of a layer's
                                     inputs for its weight gradient (fm_pack_columns) */
    size_t scratch_floats;
    double loss;                  /* this step's loss summed over this part's rows */
    int64_t correct;
    char pad[FM_CACHE_LINE];
} part;
// clang-format on

/* Views into the arena and workspace for one call; built on the stack, never stored. */
typedef struct {
    int L;
    const int *s;
    float *W[FM_MAX_LAYERS], *b[FM_MAX_LAYERS];   /* parameters */
    float *gW[FM_MAX_LAYERS], *gb[FM_MAX_LAYERS]; /* gradients (NULL when there is no buffer) */
    float *vW[FM_MAX_LAYERS], *vb[FM_MAX_LAYERS]; /* velocity / Adam's first moment */
    float *mW[FM_MAX_LAYERS];                     /* Adam's second moment (layer span start) */
    size_t span[FM_MAX_LAYERS];                   /* floats in W[l] and b[l] together */
    /* the workspace, for plan.rows rows */
    float *acts[FM_MAX_LAYERS + 1];     /* (rows, s[l]); acts[0] is the gather buffer */
    float *next_inputs;                 /* forward_by_columns: the other turn's gather buffer
                                           (rows, s[0]), for the next step's rows */
    int32_t *labels;                    /* (rows, target_words) gathered targets */
    float *delta[2];                    /* whole: (rows, widest layer) each, in turns */
    float *layer_delta[FM_MAX_LAYERS];  /* in parts: (rows, s[l + 1]) for layer l */
    int32_t *stamp;                     /* lazy first layer: (s[0],) */
    float *powers;                      /* ... (4 * (FM_LAZY_MAX_STEPS + 1),) */
    part *parts;                        /* in parts: (plan.parts,), in the workspace */
    float *packed_W[FM_MAX_LAYERS];     /* packed operands: layer l's W in panels (fm_pack_rows),
                                          for its forward pass in parts; NULL where it is not */
    float *packed_delta[FM_MAX_LAYERS]; /* ... and with SGD layer_delta[l], (rows, s[l + 1]) in
                                           panels of plan.rows rows, for its weight gradient */
    int n_parts;
} views;

/* v: the network's parameter views, and the workspace's laid out for its plan (layout.c). */
void fm_make_views(views *v, const fm_net *net, const fm_workspace *ws);
/* The widest layer after the input (at least 1): the widest operand of the backward passes. */
int fm_widest_layer(const int *sizes, int n_layers);
/* dst (n, width) overwritten with rows `rows` (n,) of X; labels (n, target_words) with their
   targets from y. */
void fm_gather_rows(float *dst, int32_t *labels, int target_words, const float *X, const int32_t *y,
                    const int64_t *rows, int n, int width);
/* Rows in minibatch `batch` of an epoch over n_rows rows (the last one may be short; 0 past the end). */
int fm_rows_in_batch(int64_t n_rows, int batch_size, int64_t batch);
/* Where part `index` of `parts` begins in count rows (or columns), and where the first layer's
   columns are cut between the parts: on whole blocks of the sparse kernels where it can
   (fm_column_begin), on whole panels of the tiles (fm_panel_column_begin, the dense forward pass
   by columns); a private block's row length. */
int fm_part_begin(int count, int index, int parts);
int fm_column_begin(int n_out, int index, int parts);
int fm_panel_column_begin(int n_out, int index, int parts);
int fm_block_ld(int width);

/* ---- the first layer by columns (columns.c), in parts or at batch 1 ---- */
/* Where each part finds its columns' weights, bias and velocity (with velocity SGD): its private
   block or in place. */
void fm_point_columns(views *v, int velocity);
/* This part's columns copied into its private block (back = 0) or back out of it (back = 1). */
void fm_move_columns(const views *v, int index, int back);

/* ---- whole blocks (network.c) ---- */
/* Forward through every layer; the last layer writes logits into `logits` (n, s[L]). */
void fm_forward(const fm_blas *blas, const views *v, const float *x, float *logits, int n,
                int activation);
/* Backward from dz = v->delta[0] (n, s[L]) at the logits: every layer's gradient into gW, gb. */
void fm_backward_gradients(const fm_blas *blas, const views *v, const float *x, int n,
                           int activation);

/* ---- the engines ---- */
/* Batch 1 (batch1.c): each layer's backward and update in one pass over its weights; with the
   plan's batch1_columns, up to n_threads threads take the first layer's parts of columns. */
int fm_train_batch1(const fm_blas *blas, const fm_net *net, fm_optimizer *opt,
                    const fm_workspace *ws, const float *X, const int32_t *y, const int64_t *order,
                    int64_t n_rows, int64_t first_batch, int64_t n_batches, int n_threads,
                    fm_stats *stats);
/* Minibatches in parts (minibatch.c). */
int fm_train_minibatches(const fm_blas *blas, const fm_net *net, fm_optimizer *opt,
                         const fm_workspace *ws, const float *X, const int32_t *y,
                         const int64_t *order, int64_t n_rows, int64_t first_batch,
                         int64_t n_batches, int n_threads, fm_stats *stats);

#endif
