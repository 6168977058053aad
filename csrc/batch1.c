/* Training at batch 1: each layer's backward pass and SGD step in one pass over its weights,
   without BLAS; over mostly-zero inputs with momentum, the first layer's rows whose input is
   zero are brought up to date lazily (fm_lazy_catch_up), as the plan says. With the plan's
   batch1_columns, threads take parts of the first layer's columns, its forward pass and its
   step, and thread 0 runs the rest of each row between them: a column's sums and steps are the
   same whoever takes it, so the bits do not depend on the threads. */
#include <math.h>

#include "engine.h"
#include "team.h"

/* SGD's step on n_in weight rows of n_out columns, ld apart (with their bias), and dx from the
   weights before it, in one pass: with a velocity where vW is not NULL. */
static void sgd_rows(float *dx, float *W, float *b, float *vW, float *vb, const float *dz,
                     const float *x, int n_in, int n_out, int ld, int32_t *stamp, int32_t step,
                     const fm_optimizer *opt)
{
    int velocity = vW != NULL;
    float mu = velocity ? opt->momentum : 0.0f, wd = velocity ? opt->weight_decay : 0.0f;
    fm_dense_backward_row(dx, W, b, vW, vb, dz, x, 0, n_in, n_out, ld, opt->lr, mu, wd, stamp,
                          step);
}

/* Layer l's backward pass and SGD step in one pass over its weights; the first layer's rows
   stamped when lazy. */
static void backward_row(const views *v, int l, float *dx, const float *dz, const float *x,
                         int velocity, int lazy, int32_t step, const fm_optimizer *opt)
{
    sgd_rows(dx, v->W[l], v->b[l], velocity ? v->vW[l] : NULL, velocity ? v->vb[l] : NULL, dz, x,
             v->s[l], v->s[l + 1], v->s[l + 1], l == 0 && lazy ? v->stamp : NULL, step, opt);
}

/* Layers [from, L) of a row's forward pass, the last one's logits into acts[L]. */
static void forward_layers(const fm_blas *blas, const views *v, const float *x, int from,
                           int activation)
{
    for (int l = from; l < v->L; l++)
        fm_dense_forward(blas, v->acts[l + 1], l == 0 ? x : v->acts[l], v->W[l], v->b[l], 1,
                         v->s[l], v->s[l + 1], l == v->L - 1 ? FM_IDENTITY : activation);
}

/* SGD's backward pass and step, layer L - 1 down to layer `last`; returns the delta at the
   outputs of layer last - 1 (dz of the first layer when last is 1). */
static const float *sgd_backward(const views *v, const fm_plan *plan, const float *x, int last,
                                 int32_t step, const fm_optimizer *opt, int activation)
{
    int velocity = plan->update == FM_VELOCITY_SGD, cur = 0;
    for (int l = v->L - 1; l >= last; l--) {
        float *dx = l == 0 ? NULL : v->delta[1 - cur];
        backward_row(v, l, dx, v->delta[cur], l == 0 ? x : v->acts[l], velocity,
                     plan->lazy_first_layer, step, opt);
        if (dx != NULL)
            fm_act_backward(dx, v->acts[l], 1, v->s[l], activation);
        cur = 1 - cur;
    }
    return v->delta[cur];
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

/* The loss at a row's logits, and its gradient there into delta[0]; the row counted in stats
   where the loss is finite. */
static int row_loss(const fm_net *net, const views *v, const int32_t *y, fm_stats *stats)
{
    int64_t correct = 0;
    double loss =
        fm_head_loss(v->acts[v->L], v->delta[0], y, 1, v->s[v->L], net->head, 1.0f, &correct);
    if (!isfinite(loss))
        return FM_NONFINITE_LOSS;
    stats->loss_sum += loss;
    stats->correct += correct;
    stats->rows += 1;
    stats->steps += 1;
    return FM_OK;
}

/* One row: forward, fused loss, backward and update. Parameters are untouched when the loss is
   not finite. */
static int train_row(const fm_blas *blas, const fm_net *net, const fm_plan *plan, views *v,
                     fm_optimizer *opt, const float *x, const int32_t *y, int32_t step,
                     fm_stats *stats)
{
    if (plan->lazy_first_layer) /* the rows the forward pass reads, up to date */
        fm_lazy_catch_up(v->W[0], v->vW[0], v->stamp, x, v->s[0], v->s[1], step, v->powers);
    forward_layers(blas, v, x, 0, net->activation);
    int status = row_loss(net, v, y, stats);
    if (status != FM_OK)
        return status;
    if (plan->update == FM_GRADIENT_STEP)
        gradient_step(blas, v, x, net->activation, opt);
    else
        sgd_backward(v, plan, x, 0, step, opt, net->activation);
    return FM_OK;
}

static int train_rows_whole(const fm_blas *blas, const fm_net *net, fm_optimizer *opt,
                            const fm_workspace *ws, const float *X, const int32_t *y,
                            const int64_t *order, int64_t n_rows, int64_t first_batch,
                            int64_t n_batches, fm_stats *stats)
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

/* ---- the first layer by columns: what the team shares ---- */
typedef struct {
    const fm_blas *blas;
    const fm_net *net;
    const fm_plan *plan;
    fm_optimizer *opt;
    views v;
    const float *X;
    const int32_t *y;
    const int64_t *order;
    int64_t n_rows, first_batch, n_batches;
    fm_stats *stats;
    fm_team team;
    int status;            /* thread 0's word on the row, read by all after the barrier */
    const float *first_dz; /* ... and where the first layer's delta is */
} by_columns;

/* A part's columns of a row's first-layer outputs. */
static void forward_part(const views *v, const part *p, const float *x, int activation)
{
    fm_dense_forward_row(v->acts[1] + p->col_begin, x, p->weights, p->ld, p->bias, v->s[0],
                         p->width, v->L == 1 ? FM_IDENTITY : activation);
}

/* SGD's step on a part's columns of the first layer, bias included. */
static void step_part(const part *p, const views *v, const float *x, const float *dz,
                      const fm_optimizer *opt)
{
    sgd_rows(NULL, p->weights, p->bias, p->v_weights, p->v_bias, dz + p->col_begin, x, v->s[0],
             p->width, p->ld, NULL, 0, opt);
}

/* Thread 0's share of a row between the first layer's passes: the rest of the forward pass, the
   loss, and the backward pass and step of layers L - 1 .. 1. */
static void middle_of_row(by_columns *run, const float *x, const int32_t *y, int32_t step)
{
    const views *v = &run->v;
    forward_layers(run->blas, v, x, 1, run->net->activation);
    run->status = row_loss(run->net, v, y, run->stats);
    if (run->status == FM_OK)
        run->first_dz = sgd_backward(v, run->plan, x, 1, step, run->opt, run->net->activation);
}

static void run_columns(void *arg, int thread, int n_threads)
{
    by_columns *run = arg;
    const views *v = &run->v;
    int parts = run->plan->parts, width = v->s[0], activation = run->net->activation;
    int first = fm_part_begin(parts, thread, n_threads);
    int last = fm_part_begin(parts, thread + 1, n_threads);
    for (int index = first; index < last; index++)
        fm_move_columns(v, index, 0);
    int64_t end = run->first_batch + run->n_batches;
    int32_t step = 0;
    for (int64_t row = run->first_batch; row < end && row < run->n_rows; row++, step++) {
        int64_t source = run->order != NULL ? run->order[row] : row;
        const float *x = run->X + (size_t)source * width;
        for (int index = first; index < last; index++)
            forward_part(v, &v->parts[index], x, activation);
        fm_team_barrier(&run->team);
        if (thread == 0)
            middle_of_row(run, x, run->y + (size_t)source * run->plan->target_words, step);
        fm_team_barrier(&run->team);
        if (run->status != FM_OK)
            break;
        /* the next row's barrier keeps thread 0 from the deltas until every part is stepped */
        for (int index = first; index < last; index++)
            step_part(&v->parts[index], v, x, run->first_dz, run->opt);
    }
    for (int index = first; index < last; index++) /* each thread its own parts: no barrier */
        fm_move_columns(v, index, 1);
}

int fm_train_batch1(const fm_blas *blas, const fm_net *net, fm_optimizer *opt,
                    const fm_workspace *ws, const float *X, const int32_t *y, const int64_t *order,
                    int64_t n_rows, int64_t first_batch, int64_t n_batches, int n_threads,
                    fm_stats *stats)
{
    if (!ws->plan.batch1_columns)
        return train_rows_whole(blas, net, opt, ws, X, y, order, n_rows, first_batch, n_batches,
                                stats);
    by_columns run = {.blas = blas,
                      .net = net,
                      .plan = &ws->plan,
                      .opt = opt,
                      .X = X,
                      .y = y,
                      .order = order,
                      .n_rows = n_rows,
                      .first_batch = first_batch,
                      .n_batches = n_batches,
                      .stats = stats,
                      .status = FM_OK};
    fm_make_views(&run.v, net, ws);
    fm_point_columns(&run.v, ws->plan.update == FM_VELOCITY_SGD);
    fm_team_run(&run.team, run_columns, &run,
                n_threads < ws->plan.parts ? n_threads : ws->plan.parts);
    return run.status;
}
