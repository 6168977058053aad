/* Internal to csrc/: where each layer's parameters, optimizer state, activations and deltas
   live inside the arena and the workspace. */
#ifndef FASTMLP_VIEWS_H
#define FASTMLP_VIEWS_H

#include "fastmlp.h"

/* Views into the arena and workspace for one call; built on the stack, never stored. */
typedef struct {
    int L;
    const int *s;
    float *W[FM_MAX_LAYERS], *b[FM_MAX_LAYERS];    /* parameters */
    float *gW[FM_MAX_LAYERS], *gb[FM_MAX_LAYERS];  /* gradients (NULL when there is no buffer) */
    float *vW[FM_MAX_LAYERS], *vb[FM_MAX_LAYERS];  /* velocity / Adam's first moment */
    float *mW[FM_MAX_LAYERS];                      /* Adam's second moment (layer span start) */
    size_t span[FM_MAX_LAYERS];                    /* floats in W[l] and b[l] together */
    float *acts[FM_MAX_LAYERS + 1];                /* (max_rows, s[l]); acts[0] is the gather buffer */
    float *delta[2];                               /* (max_rows, max width) each */
    int32_t *labels;                               /* (max_rows,) gathered labels */
    /* Lazy momentum on the first layer at batch 1 (see fm_lazy_catch_up) */
    int lazy;
    int32_t step;                                  /* steps done in this chunk */
    int32_t *stamp;                                /* (s[0],) */
    float *powers;                                 /* (4 * (FM_LAZY_MAX_STEPS + 1),) */
} views;

/* Floats in 64 bytes, a cache line: each region of the workspace starts on one, so that rows of
   16-float multiples keep whole lines and an AVX-512 load never straddles two (which slows the
   sparse first layer's kernels). */
#define FM_ALIGN 16

static inline float *fm_aligned(float *p)
{
    return (float *)(((uintptr_t)p + 4 * FM_ALIGN - 1) & ~(uintptr_t)(4 * FM_ALIGN - 1));
}

void fm_make_views(views *v, const fm_net *net, const fm_workspace *ws);
int fm_widest_layer(const int *sizes, int n_layers);
/* dst (n, width) overwritten with rows `rows` (n,) of X; labels (n,) with theirs from y. */
void fm_gather_rows(float *dst, int32_t *labels, const float *X, const int32_t *y,
                    const int64_t *rows, int n, int width);
/* Rows in minibatch `batch` of an epoch over n_rows rows (the last one may be short; 0 past the end). */
int fm_rows_in_batch(int64_t n_rows, int batch_size, int64_t batch);

#endif
