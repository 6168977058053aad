/* The network as a whole: forward, loss, backward and update for one minibatch, the loop over
   a chunk of minibatches, and blocked inference. */
#include <math.h>
#include <string.h>

#include "views.h"

/* A first layer smaller than this is not worth the lazy bookkeeping. */
#define FM_LAZY_MIN_WEIGHTS 16384

/* Forward through every layer; the last layer writes logits into `logits` (n, s[L]). */
static void forward(const fm_blas *blas, const views *v, const float *x, float *logits,
                    int n, int activation)
{
    for (int l = 0; l < v->L; l++) {
        const float *in = l == 0 ? x : v->acts[l];
        float *out = l == v->L - 1 ? logits : v->acts[l + 1];
        int act = l == v->L - 1 ? FM_IDENTITY : activation;
        if (n == 1 && l == 0 && v->lazy)  /* the rows it reads must be brought up to date */
            fm_lazy_catch_up(v->W[0], v->vW[0], v->stamp, in, v->s[0], v->s[1], v->step, v->powers);
        fm_dense_forward(blas, out, in, v->W[l], v->b[l], n, v->s[l], v->s[l + 1], act);
    }
}

/* Batch 1: a layer's backward and SGD step in one pass over its weights. */
static void backward_row(const views *v, int l, float *dx, const float *dz, const float *x,
                         float *vW, float *vb, const fm_optimizer *opt)
{
    float mu = vW ? opt->momentum : 0.0f, wd = vW ? opt->weight_decay : 0.0f;
    fm_dense_backward_row(dx, v->W[l], v->b[l], vW, vb, dz, x, 0, v->s[l], v->s[l + 1], opt->lr,
                          mu, wd, l == 0 && v->lazy ? v->stamp : NULL, v->step);
}

enum update_mode { GRADIENTS_ONLY, PLAIN_SGD, VELOCITY_SGD, GRADIENT_THEN_UPDATE };

static int update_mode(const fm_optimizer *opt)
{
    if (opt == NULL)
        return GRADIENTS_ONLY;
    if (opt->kind == FM_ADAM || opt->nesterov)
        return GRADIENT_THEN_UPDATE;
    if (opt->momentum == 0.0f && opt->weight_decay == 0.0f)
        return PLAIN_SGD;
    return VELOCITY_SGD;
}

/* Backward pass from dz = delta[0] (n, s[L]) at the logits, updating as `opt` says. Each layer's
   dx is computed from the weights before they change, so the gradient GEMM can write straight
   into the weights (plain SGD) or the velocity, never materialising the weight gradient. */
static void backward(const fm_blas *blas, views *v, const float *x, int n, int activation,
                     fm_optimizer *opt, float bc1, float bc2)
{
    int mode = update_mode(opt);
    int cur = 0;
    for (int l = v->L - 1; l >= 0; l--) {
        const float *in = l == 0 ? x : v->acts[l];
        float *dz = v->delta[cur];
        float *dx = l == 0 ? NULL : v->delta[1 - cur];
        int n_in = v->s[l], n_out = v->s[l + 1];
        switch (mode) {
        case PLAIN_SGD:
            if (n == 1) {
                backward_row(v, l, dx, dz, in, NULL, NULL, opt);
                break;
            }
            fm_dense_backward(blas, dx, v->W[l], v->b[l], dz, in, v->W[l], n, n_in, n_out,
                              -opt->lr, 1.0f);
            break;
        case VELOCITY_SGD: {
            if (n == 1) {
                backward_row(v, l, dx, dz, in, v->vW[l], v->vb[l], opt);
                break;
            }
            /* v = mu v - lr (g + wd w) as v = (mu v - lr wd w) - lr g, the gradient GEMM
               accumulating into the velocity. (fit's minibatches take fm_train_split; this is
               for a workspace without its buffers.) */
            fm_decay_velocity(v->vW[l], v->W[l], v->span[l], opt->momentum,
                              -opt->lr * opt->weight_decay);
            fm_dense_backward(blas, dx, v->vW[l], v->vb[l], dz, in, v->W[l], n, n_in, n_out,
                              -opt->lr, 1.0f);
            fm_add_inplace(v->W[l], v->vW[l], v->span[l]);
            break;
        }
        default:
            fm_dense_backward(blas, dx, v->gW[l], v->gb[l], dz, in, v->W[l], n, n_in, n_out,
                              1.0f, 0.0f);
            if (mode == GRADIENT_THEN_UPDATE && opt->kind == FM_ADAM)
                fm_adam_update(v->W[l], v->vW[l], v->mW[l], v->gW[l], v->span[l], opt, bc1, bc2);
            else if (mode == GRADIENT_THEN_UPDATE)
                fm_sgd_update(v->W[l], v->vW[l], v->gW[l], v->span[l], opt);
        }
        if (dx != NULL)
            fm_act_backward(dx, v->acts[l], n, n_in, activation);
        cur = 1 - cur;
    }
}

/* One minibatch: forward, fused loss, backward and update. Parameters are untouched when the
   loss is not finite. */
static int train_step(const fm_blas *blas, const fm_net *net, views *v, fm_optimizer *opt,
                      const float *x, const int32_t *y, int n, fm_stats *stats)
{
    int L = v->L, k = v->s[L];
    forward(blas, v, x, v->acts[L], n, net->activation);
    int64_t correct = 0;
    double loss = fm_head_loss(v->acts[L], v->delta[0], y, n, k, net->head, 1.0f / n, &correct);
    if (!isfinite(loss))
        return FM_NONFINITE_LOSS;
    float bc1 = 1.0f, bc2 = 1.0f;
    if (opt->kind == FM_ADAM) {
        opt->step += 1;
        bc1 = (float)(1.0 - pow(opt->beta1, (double)opt->step));
        bc2 = (float)(1.0 - pow(opt->beta2, (double)opt->step));
    }
    backward(blas, v, x, n, net->activation, opt, bc1, bc2);
    stats->loss_sum += loss;
    stats->correct += correct;
    stats->rows += n;
    stats->steps += 1;
    return FM_OK;
}

static int run_batches(const fm_blas *blas, const fm_net *net, views *v, fm_optimizer *opt,
                       const float *X, const int32_t *y, const int64_t *order, int64_t n_rows,
                       int batch_size, int64_t first_batch, int64_t n_batches, fm_stats *stats)
{
    int width = net->sizes[0];
    int64_t end = first_batch + n_batches;
    for (int64_t batch = first_batch; batch < end; batch++) {
        int64_t start = batch * batch_size;
        if (start >= n_rows)
            break;
        int n = fm_rows_in_batch(n_rows, batch_size, batch);
        const float *x = X + (size_t)start * width;
        const int32_t *labels = y + start;
        if (order != NULL) {
            fm_gather_rows(v->acts[0], v->labels, X, y, order + start, n, width);
            x = v->acts[0];
            labels = v->labels;
        }
        int status = train_step(blas, net, v, opt, x, labels, n, stats);
        if (status != FM_OK)
            return status;
        v->step++;
    }
    return FM_OK;
}

int fm_train_chunk(const fm_blas *blas, fm_net *net, fm_optimizer *opt, fm_workspace *ws,
                   const float *X, const int32_t *y, const int64_t *order, int64_t n_rows,
                   int batch_size, int64_t first_batch, int64_t n_batches,
                   int sparse_inputs, int n_threads, fm_stats *stats)
{
    /* X: (n_rows, sizes[0]); y: (n_rows,); order: (n_rows,) or NULL */
    views v;
    fm_make_views(&v, net, ws);
    int mode = update_mode(opt);
    int needs = opt->kind == FM_ADAM ? 2 : mode == PLAIN_SGD ? 0 : 1;
    if ((needs >= 1 && net->state1 == NULL) || (needs == 2 && net->state2 == NULL)
            || (mode == GRADIENT_THEN_UPDATE && net->grads == NULL))
        return FM_MISSING_STATE;
    if (ws->split != NULL && batch_size > 1)
        return fm_train_split(blas, net, opt, ws, X, y, order, n_rows, batch_size, first_batch,
                              n_batches, sparse_inputs, n_threads, stats);
    /* Lazy first-layer momentum pays where inputs are mostly zero (images); it needs the chunk
       to fit the table of matrix powers, and Python keeps batch-1 chunks a fixed length, so
       where the lazy rows are brought up to date never depends on timing. */
    v.lazy = sparse_inputs && batch_size == 1 && mode == VELOCITY_SGD && n_batches <= FM_LAZY_MAX_STEPS
             && (size_t)v.s[0] * v.s[1] >= FM_LAZY_MIN_WEIGHTS;
    if (v.lazy) {
        fm_lazy_powers(v.powers, (int)n_batches, opt->momentum, -opt->lr * opt->weight_decay);
        for (int i = 0; i < v.s[0]; i++)
            v.stamp[i] = 0;
    }
    int status = run_batches(blas, net, &v, opt, X, y, order, n_rows, batch_size, first_batch,
                             n_batches, stats);
    if (v.lazy)  /* every row up to date before Python sees the parameters */
        fm_lazy_catch_up(v.W[0], v.vW[0], v.stamp, NULL, v.s[0], v.s[1], v.step, v.powers);
    return status;
}

double fm_loss_and_gradients(const fm_blas *blas, fm_net *net, fm_workspace *ws,
                             const float *X, const int32_t *y, int n)
{
    /* X: (n, sizes[0]); y: (n,); net->grads overwritten */
    views v;
    fm_make_views(&v, net, ws);
    int L = v.L;
    forward(blas, &v, X, v.acts[L], n, net->activation);
    double loss = fm_head_loss(v.acts[L], v.delta[0], y, n, v.s[L], net->head, 1.0f / n, NULL);
    backward(blas, &v, X, n, net->activation, NULL, 1.0f, 1.0f);
    return loss / n;
}

void fm_predict(const fm_blas *blas, const fm_net *net, fm_workspace *ws, float *out,
                const float *X, int64_t n_rows, int sparse_inputs, int n_threads)
{
    if (ws->split != NULL) {
        fm_infer_split(blas, net, ws, out, X, NULL, n_rows, sparse_inputs, n_threads, NULL);
        return;
    }
    /* out: (n_rows, k); X: (n_rows, sizes[0]) */
    views v;
    fm_make_views(&v, net, ws);
    int k = v.s[v.L], width = v.s[0];
    for (int64_t start = 0; start < n_rows; start += ws->max_rows) {
        int n = (int)(n_rows - start < ws->max_rows ? n_rows - start : ws->max_rows);
        float *logits = out + (size_t)start * k;
        forward(blas, &v, X + (size_t)start * width, logits, n, net->activation);
        fm_head_output(logits, n, k, net->head);
    }
}

void fm_evaluate(const fm_blas *blas, const fm_net *net, fm_workspace *ws, const float *X,
                 const int32_t *y, int64_t n_rows, int sparse_inputs, int n_threads,
                 fm_stats *stats)
{
    if (ws->split != NULL) {
        fm_infer_split(blas, net, ws, NULL, X, y, n_rows, sparse_inputs, n_threads, stats);
        return;
    }
    /* X: (n_rows, sizes[0]); y: (n_rows,) */
    views v;
    fm_make_views(&v, net, ws);
    int L = v.L, k = v.s[L], width = v.s[0];
    for (int64_t start = 0; start < n_rows; start += ws->max_rows) {
        int n = (int)(n_rows - start < ws->max_rows ? n_rows - start : ws->max_rows);
        forward(blas, &v, X + (size_t)start * width, v.acts[L], n, net->activation);
        stats->loss_sum += fm_head_loss(v.acts[L], NULL, y + start, n, k, net->head, 1.0f, &stats->correct);
        stats->rows += n;
    }
}
