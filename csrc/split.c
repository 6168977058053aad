/* A dense layer's forward pass and SGD backward pass split in two parts by output columns, for
   the training loop's two threads (workers.c). Each part owns the same columns of W, b and the
   velocity every step, so they stay in that core's cache, and calls a single-threaded BLAS on
   its block. The input gradient dx = dz W^T needs every column: each part writes its partial
   product, and a second split job (by rows) adds the two and applies the activation's
   derivative. Which part runs on which thread never changes a number. */
#include "fastmlp.h"

/* Column range [*begin, *end) of part `part` of n columns, cut on a 64-byte boundary. */
static void column_range(int n, int part, int *begin, int *end)
{
    int mid = ((n / 2) + 15) & ~15;
    mid = mid > n ? n : mid;
    *begin = part == 0 ? 0 : mid;
    *end = part == 0 ? mid : n;
}

static void row_range(int n, int part, int *begin, int *end)
{
    *begin = part == 0 ? 0 : n / 2;
    *end = part == 0 ? n / 2 : n;
}

void fm_split_forward_part(void *ctx, int part)
{
    const fm_split_layer *j = ctx;
    int c0, c1;
    column_range(j->n_out, part, &c0, &c1);
    if (c1 <= c0)
        return;
    /* out[:, c0:c1] = x W[:, c0:c1], then bias and activation on that block */
    fm_gemm(j->blas, 0, 0, j->n, c1 - c0, j->n_in, 1.0f, j->x, j->n_in, j->W + c0, j->n_out, 0.0f,
            j->out + c0, j->n_out);
    for (int i = 0; i < j->n; i++)
        fm_bias_act_forward(j->out + (size_t)i * j->n_out + c0, j->b + c0, 1, c1 - c0, j->activation);
}

FM_VECTORIZED
static void decay_velocity(const float *w, float *v, int m, float mu, float c)
{
    /* v = mu v + c w, before the gradient lands (see train.c's backward) */
    for (int j = 0; j < m; j++)
        v[j] = mu * v[j] + c * w[j];
}

FM_VECTORIZED
static void apply_velocity(float *w, float *v, int m, float mu, float c, int prescale_next)
{
    /* w += v, with the next step's decay folded in when that step is in this chunk */
    if (prescale_next) {
        for (int j = 0; j < m; j++) {
            float wj = w[j] + v[j];
            w[j] = wj;
            v[j] = mu * v[j] + c * wj;
        }
    } else {
        for (int j = 0; j < m; j++)
            w[j] += v[j];
    }
}

FM_VECTORIZED
static void add_column_sums(float *db, const float *dz, int n, int ld, int m, float alpha)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            db[j] += alpha * dz[(size_t)i * ld + j];
}

void fm_split_backward_part(void *ctx, int part)
{
    const fm_split_layer *j = ctx;
    int c0, c1;
    column_range(j->n_out, part, &c0, &c1);
    if (c1 <= c0)
        return;
    int m = c1 - c0, n_in = j->n_in, n_out = j->n_out;
    /* the partial input gradient, from the weights before the step */
    if (j->partial[part] != NULL)
        fm_gemm(j->blas, 0, 1, j->n, n_in, m, 1.0f, j->dz + c0, n_out, j->W + c0, n_out, 0.0f,
                j->partial[part], n_in);
    if (j->vW == NULL) {  /* plain SGD: the gradient GEMM writes into the weights */
        fm_gemm(j->blas, 1, 0, n_in, m, j->n, -j->lr, j->x, n_in, j->dz + c0, n_out, 1.0f,
                j->W + c0, n_out);
        add_column_sums(j->b + c0, j->dz + c0, j->n, n_out, m, -j->lr);
        return;
    }
    if (!j->velocity_prescaled) {
        for (int i = 0; i < n_in; i++)
            decay_velocity(j->W + (size_t)i * n_out + c0, j->vW + (size_t)i * n_out + c0, m, j->mu, j->c);
        decay_velocity(j->b + c0, j->vb + c0, m, j->mu, j->c);
    }
    fm_gemm(j->blas, 1, 0, n_in, m, j->n, -j->lr, j->x, n_in, j->dz + c0, n_out, 1.0f,
            j->vW + c0, n_out);
    add_column_sums(j->vb + c0, j->dz + c0, j->n, n_out, m, -j->lr);
    for (int i = 0; i < n_in; i++)
        apply_velocity(j->W + (size_t)i * n_out + c0, j->vW + (size_t)i * n_out + c0, m, j->mu,
                       j->c, j->prescale_next);
    apply_velocity(j->b + c0, j->vb + c0, m, j->mu, j->c, j->prescale_next);
}

FM_VECTORIZED
static void add_arrays(float *dst, const float *a, const float *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = a[i] + b[i];
}

void fm_split_input_gradient_part(void *ctx, int part)
{
    const fm_split_layer *j = ctx;
    int r0, r1;
    row_range(j->n, part, &r0, &r1);
    size_t at = (size_t)r0 * j->n_in, count = (size_t)(r1 - r0) * j->n_in;
    add_arrays(j->dx + at, j->partial[0] + at, j->partial[1] + at, count);
    fm_act_backward(j->dx + at, j->a + at, r1 - r0, j->n_in, j->activation);
}
