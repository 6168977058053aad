/* The training entry points: fm_train_chunk hands a chunk of minibatches to the engine its plan
   names (batch1.c or minibatch.c), and fm_loss_and_gradients runs one whole block. */
#include "engine.h"

/* Whether net has the buffers the plan's update writes. */
static int has_state(const fm_net *net, const fm_optimizer *opt, int update)
{
    int needs = opt->kind == FM_ADAM ? 2 : update == FM_PLAIN_SGD ? 0 : 1;
    return !((needs >= 1 && net->state1 == NULL) || (needs == 2 && net->state2 == NULL) ||
             (update == FM_GRADIENT_STEP && net->grads == NULL));
}

/* Whether batch 1 may cut its first layer by columns: an SGD step, each row a step, and nothing
   of the minibatch engine's. */
static int batch1_columns_fit(const fm_plan *plan)
{
    return plan->rows == 1 && plan->parts >= 2 &&
           (plan->update == FM_PLAIN_SGD || plan->update == FM_VELOCITY_SGD) &&
           !plan->lazy_first_layer && !plan->sparse_inputs && !plan->by_columns &&
           !plan->hidden_lists && !plan->packed_operands;
}

int fm_train_chunk(const fm_blas *blas, fm_net *net, fm_optimizer *opt, fm_workspace *ws,
                   const float *X, const int32_t *y, const int64_t *order, int64_t n_rows,
                   int64_t first_batch, int64_t n_batches, int n_threads, fm_stats *stats)
{
    /* X: (n_rows, sizes[0]); y: (n_rows, target words); order: (n_rows,) or NULL */
    const fm_plan *plan = &ws->plan;
    if (plan->update == FM_NO_UPDATE || plan->parts < 1 || plan->parts > FM_MAX_PARTS ||
        (plan->rows > 1 && plan->parts == 1) ||
        plan->target_words != fm_target_words(net->head, net->sizes[net->n_layers]))
        return FM_BAD_PLAN;
    if (!has_state(net, opt, plan->update))
        return FM_MISSING_STATE;
    int whole_rows = plan->parts == 1 || plan->batch1_columns; /* batch1.c */
    if (whole_rows && (net->dropout != NULL || net->max_norm > 0.0f))
        return FM_BAD_PLAN; /* dropout and max-norm run in parts only (fastmlp/_plan.py) */
    if (plan->packed_first_layer && net->max_norm > 0.0f)
        return FM_BAD_PLAN; /* max-norm reads the first layer's W after each step */
    if (plan->batch1_columns && !batch1_columns_fit(plan))
        return FM_BAD_PLAN;
    if (plan->stream_panels &&
        (whole_rows || plan->sparse_inputs || !plan->packed_operands || plan->packed_first_layer ||
         (plan->update != FM_PLAIN_SGD && plan->update != FM_VELOCITY_SGD)))
        return FM_BAD_PLAN; /* the tiles' SGD step writes the first layer's panels beside W */
    if (plan->forward_by_columns &&
        (whole_rows || plan->sparse_inputs || plan->by_columns || !plan->packed_operands))
        return FM_BAD_PLAN; /* it reads the first layer's panels over dense inputs */
    int64_t steps_before = stats->steps;
    int status = whole_rows ? fm_train_batch1(blas, net, opt, ws, X, y, order, n_rows, first_batch,
                                              n_batches, n_threads, stats)
                            : fm_train_minibatches(blas, net, opt, ws, X, y, order, n_rows,
                                                   first_batch, n_batches, n_threads, stats);
    net->steps += stats->steps - steps_before; /* the dropout stream moves on with the steps */
    return status;
}

double fm_loss_and_gradients(const fm_blas *blas, fm_net *net, fm_workspace *ws, const float *X,
                             const int32_t *y, int n)
{
    /* X: (n, sizes[0]); y: (n, target words); net->grads overwritten */
    views v;
    fm_make_views(&v, net, ws);
    int L = v.L;
    fm_forward(blas, &v, X, v.acts[L], n, net->activation);
    double loss = fm_head_loss(v.acts[L], v.delta[0], y, n, v.s[L], net->head, 1.0f / n, NULL);
    fm_backward_gradients(blas, &v, X, n, net->activation);
    return loss / n;
}
