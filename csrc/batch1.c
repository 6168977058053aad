/* Training at batch 1: each layer's backward pass and SGD step in one pass over its weights,
   without BLAS; over mostly-zero inputs with momentum, the first layer's rows whose input is
   zero are brought up to date lazily (fm_lazy_catch_up), as the plan says. */
#include <math.h>

#include "engine.h"

/* A layer's backward and SGD step in one pass; the first layer's rows stamped when lazy. */
static void backward_row(const views *v, int l, float *dx, const float *dz, const float *x,
                         int velocity, int lazy, int32_t step, const fm_optimizer *opt)
{
    float mu = velocity ? opt->momentum : 0.0f, wd = velocity ? opt->weight_decay : 0.0f;
    fm_dense_backward_row(dx, v->W[l], v->b[l], velocity ? v->vW[l] : NULL,
                          velocity ? v->vb[l] : NULL, dz, x, 0, v->s[l], v->s[l + 1], opt->lr, mu,
                          wd, l == 0 && lazy ? v->stamp : NULL, step);
}

/* The gradient, then the optimizer's step on every layer (Adam, Nesterov): each layer's dx came
   from its weights before they changed, as in the fused pass. */
static void gradient_step(const fm_blas *blas, const views *v, const float *x, int activation,
                          fm_optimizer *opt)
{
    fm_backward_gradients(blas, v, x, 1, activation);
    float bc1 = 1.0f, bc2 = 1.0f;
    if (opt->kind == FM_ADAM) {
        opt->step += 1;
        bc1 = (float)(1.0 - pow(opt->beta1, (double)opt->step));
        bc2 = (float)(1.0 - pow(opt->beta2, (double)opt->step));
    }
    for (int l = v->L - 1; l >= 0; l--) {
        if (opt->kind == FM_ADAM)
            fm_adam_update(v->W[l], v->vW[l], v->mW[l], v->gW[l], v->span[l], opt, bc1, bc2);
        else
            fm_sgd_update(v->W[l], v->vW[l], v->gW[l], v->span[l], opt);
    }
}

/* One row: forward, fused loss, backward and update. Parameters are untouched when the loss is
   not finite. */
static int train_row(const fm_blas *blas, const fm_net *net, const fm_plan *plan, views *v,
                     fm_optimizer *opt, const float *x, const int32_t *y, int32_t step,
                     fm_stats *stats)
{
    int L = v->L, k = v->s[L];
    if (plan->lazy_first_layer) /* the rows the forward pass reads, up to date */
        fm_lazy_catch_up(v->W[0], v->vW[0], v->stamp, x, v->s[0], v->s[1], step, v->powers);
    fm_forward(blas, v, x, v->acts[L], 1, net->activation);
    int64_t correct = 0;
    double loss = fm_head_loss(v->acts[L], v->delta[0], y, 1, k, net->head, 1.0f, &correct);
    if (!isfinite(loss))
        return FM_NONFINITE_LOSS;
    if (plan->update == FM_GRADIENT_STEP) {
        gradient_step(blas, v, x, net->activation, opt);
    } else {
        int velocity = plan->update == FM_VELOCITY_SGD, cur = 0;
        for (int l = L - 1; l >= 0; l--) {
            float *dx = l == 0 ? NULL : v->delta[1 - cur];
            backward_row(v, l, dx, v->delta[cur], l == 0 ? x : v->acts[l], velocity,
                         plan->lazy_first_layer, step, opt);
            if (dx != NULL)
                fm_act_backward(dx, v->acts[l], 1, v->s[l], net->activation);
            cur = 1 - cur;
        }
    }
    stats->loss_sum += loss;
    stats->correct += correct;
    stats->rows += 1;
    stats->steps += 1;
    return FM_OK;
}

int fm_train_batch1(const fm_blas *blas, const fm_net *net, fm_optimizer *opt,
                    const fm_workspace *ws, const float *X, const int32_t *y, const int64_t *order,
                    int64_t n_rows, int64_t first_batch, int64_t n_batches, fm_stats *stats)
{
    const fm_plan *plan = &ws->plan;
    views v;
    fm_make_views(&v, net, ws);
    int width = v.s[0];
    if (plan->lazy_first_layer) { /* where the chunk ends never depends on timing (the plan) */
        if (n_batches > FM_LAZY_MAX_STEPS)
            return FM_BAD_PLAN;
        fm_lazy_powers(v.powers, (int)n_batches, opt->momentum, -opt->lr * opt->weight_decay);
        for (int i = 0; i < width; i++)
            v.stamp[i] = 0;
    }
    int status = FM_OK;
    int32_t step = 0;
    for (int64_t row = first_batch; row < first_batch + n_batches && row < n_rows; row++) {
        int64_t source = order != NULL ? order[row] : row;
        status = train_row(blas, net, plan, &v, opt, X + (size_t)source * width,
                           y + (size_t)source * plan->target_words, step, stats);
        if (status != FM_OK)
            break;
        step++;
    }
    if (plan->lazy_first_layer) /* every row up to date before Python sees the parameters */
        fm_lazy_catch_up(v.W[0], v.vW[0], v.stamp, NULL, v.s[0], v.s[1], step, v.powers);
    return status;
}
