/* Minibatch training in parts (parts.h): the minibatch's rows are cut in parts for the forward
   pass, the loss and the deltas; then, after a barrier, each layer's weight rows for the update
   (a weight row's gradient touches only that row), or by columns for the sparse first layer
   (columns.c). Over mostly-zero inputs each part's next rows are gathered as non-zeros a step
   ahead, by whichever thread is free first; so are dense rows where the plan makes the first
   layer's outputs by columns, in a phase before the rest of the forward pass. Measurements:
   benchmarks/README.md. */
#include <math.h>

#include "parts.h"

/* Where a turn's shuffled dense rows are gathered: with the plan's forward_by_columns the next
   step's during this step's update, into the other turn's buffer; else each step's into acts[0]
   as its forward pass starts. */
static float *gather_buffer(const in_parts *run, int turn)
{
    return run->plan->forward_by_columns && turn == 1 ? run->v->next_inputs : run->v->acts[0];
}

/* The minibatch's input rows, as the first layer reads them when it is dense: gathered into the
   workspace when shuffled, else read in place. */
static const float *dense_inputs(const in_parts *run, int64_t start, int turn)
{
    return run->order != NULL ? gather_buffer(run, turn) : run->X + (size_t)start * run->v->s[0];
}

static const int32_t *labels_of(const in_parts *run, int64_t start)
{
    return run->order != NULL || run->plan->sparse_inputs
               ? run->v->labels
               : run->y + (size_t)start * run->plan->target_words;
}

/* Row r of targets a row's plan->target_words words apart (a label, or regression's values). */
static int32_t *targets_at(const in_parts *run, const int32_t *targets, int64_t r)
{
    return (int32_t *)targets + (size_t)r * run->plan->target_words;
}

/* Where the m rows from r0 of the minibatch at `start` come from in X: their entries of the
   shuffled order, or NULL when they are read in order (or there are none). */
static const int64_t *rows_in_order(const in_parts *run, int64_t start, int r0, int m)
{
    return run->order != NULL && m > 0 ? run->order + start + r0 : NULL;
}

/* This part of the minibatch's rows into the workspace (sparse: into inputs[turn]), when
   shuffled or sparse; a dense first layer reads them in place otherwise. */
static void gather_part(in_parts *run, int index, int64_t start, int n, int turn)
{
    int r0 = part_begin(run, n, index), m = part_end(run, n, index) - r0;
    const int64_t *rows = rows_in_order(run, start, r0, m);
    views *v = run->v;
    if (run->plan->sparse_inputs) /* even when empty: the update reads every part */
        fm_sparse_gather(&v->parts[index].inputs[turn], targets_at(run, v->labels, r0),
                         run->plan->target_words, run->X, run->y, rows, start + r0, m, r0);
    else if (rows != NULL)
        fm_gather_rows(gather_buffer(run, turn) + (size_t)r0 * v->s[0],
                       targets_at(run, v->labels, r0), run->plan->target_words, run->X, run->y,
                       rows, m, v->s[0]);
}

/* The step of the minibatch at `start` among all this network has trained: the dropout stream's. */
static int64_t step_of(const in_parts *run, int64_t start)
{
    return run->net->steps + start / run->rows - run->first_batch;
}

static float dropout_rate(const in_parts *run, int layer)
{
    return run->net->dropout != NULL ? run->net->dropout[layer] : 0.0f;
}

/* Rows [r0, r0 + m) of hidden layer `layer`'s outputs, dropped out where the network says. */
static void drop_out(const in_parts *run, int layer, int64_t start, int r0, int m)
{
    float rate = dropout_rate(run, layer);
    if (rate > 0.0f && layer < run->v->L)
        fm_dropout_forward(run->v->acts[layer] + (size_t)r0 * run->v->s[layer], m, run->v->s[layer],
                           run->net->dropout_seed, step_of(run, start), r0, layer, rate);
}

/* Rows [r0, r0 + m) of layer l's deltas into their panels, where the plan packs them. */
static void pack_delta_rows(const in_parts *run, int l, int r0, int m)
{
    const views *v = run->v;
    if (v->packed_delta[l] != NULL)
        fm_pack_rows(v->packed_delta[l], v->layer_delta[l], run->rows, v->s[l + 1], r0, r0 + m);
}

/* Rows [r0, r1) of the minibatch: (when dense, the gather) the forward pass (by columns, from
   the second layer on), the loss, and the deltas back to layer 0. */
static void forward_backward_part(in_parts *run, int index, int64_t start, int n, int turn)
{
    views *v = run->v;
    const fm_plan *plan = run->plan;
    int L = v->L, k = v->s[L], activation = run->net->activation;
    int r0 = part_begin(run, n, index), m = part_end(run, n, index) - r0;
    part *mine = &v->parts[index];
    mine->loss = 0.0;
    mine->correct = 0;
    if (!plan->sparse_inputs && !plan->forward_by_columns) /* else gathered a step ahead */
        gather_part(run, index, start, n, turn);
    if (m == 0) { /* no hidden rows either: the update reads every part's lists */
        for (int l = 1; l < L; l++)
            if (fm_lists_inputs(run, l))
                fm_sparse_gather(&mine->hidden[l], NULL, 0, v->acts[l], NULL, NULL, r0, 0, r0);
        return;
    }
    int by_columns = plan->by_columns || plan->forward_by_columns;
    if (by_columns) /* the first layer's outputs, made by columns for every part */
        drop_out(run, 1, start, r0, m);
    for (int l = by_columns ? 1 : 0; l < L; l++) {
        float *out = v->acts[l + 1] + (size_t)r0 * v->s[l + 1];
        const float *in =
            (l == 0 ? dense_inputs(run, start, turn) : v->acts[l]) + (size_t)r0 * v->s[l];
        if (l == 0 && plan->sparse_inputs)
            fm_sparse_forward(out, v->s[1], &mine->inputs[turn], v->W[0], v->s[1], v->b[0], v->s[1],
                              fm_part_activation(run, 0));
        else if (!fm_sparse_hidden_forward(run, mine, out, l, r0, m))
            fm_part_dense_forward(run, out, in, l, m);
        drop_out(run, l + 1, start, r0, m);
    }
    mine->loss = fm_head_loss(v->acts[L] + (size_t)r0 * k, v->layer_delta[L - 1] + (size_t)r0 * k,
                              targets_at(run, labels_of(run, start), r0), m, k, run->net->head,
                              1.0f / n, &mine->correct);
    pack_delta_rows(run, L - 1, r0, m);
    for (int l = L - 1; l >= 1; l--) {
        int n_in = v->s[l], n_out = v->s[l + 1];
        float *dx = v->layer_delta[l - 1] + (size_t)r0 * n_in;
        const float *dl = v->layer_delta[l] + (size_t)r0 * n_out;
        if (fm_lists_inputs(run, l) && fm_mostly_zeros(mine->hidden[l].nnz, m, n_in)) {
            /* only the products ReLU lets through */
            fm_sparse_relu_backward(dx, n_in, &mine->hidden[l], dl, n_out, v->W[l], n_out, n_out);
            pack_delta_rows(run, l - 1, r0, m);
            continue;
        }
        fm_backward_product(run->blas, dx, dl, v->W[l], m, n_in, n_out, mine->scratch);
        if (dropout_rate(run, l) > 0.0f)
            fm_dropout_backward(dx, v->acts[l] + (size_t)r0 * n_in, m, n_in, activation,
                                run->net->dropout_seed, step_of(run, start), r0, l,
                                dropout_rate(run, l));
        else
            fm_act_backward(dx, v->acts[l] + (size_t)r0 * n_in, m, n_in, activation);
        pack_delta_rows(run, l - 1, r0, m);
    }
}

/* Layer l >= 1's inputs for the whole minibatch as every part listed them, when the update may
   read them as non-zeros (nothing else listed in their place since the forward pass): returns
   0 where the GEMM is to take the weight gradient instead. */
static int hidden_inputs(const fm_sparse **inputs, const in_parts *run, int l, int n)
{
    if (!fm_lists_inputs(run, l))
        return 0;
    int64_t nnz = 0;
    for (int index = 0; index < run->v->n_parts; index++) {
        inputs[index] = &run->v->parts[index].hidden[l];
        nnz += inputs[index]->nnz;
    }
    return fm_mostly_zeros(nnz, n, run->v->s[l]);
}

/* This part's weight rows [j0, j0 + rows) of layer l >= 0 (not by columns): one SGD step, and
   the rows packed where the plan packs them. */
static void step_weight_rows(in_parts *run, int index, int l, int j0, int rows, int64_t start,
                             int n, int turn)
{
    const views *v = run->v;
    const fm_optimizer *opt = run->opt;
    int velocity = run->plan->update == FM_VELOCITY_SGD, n_in = v->s[l], n_out = v->s[l + 1];
    float lr = opt->lr, mu = opt->momentum, c = -opt->lr * opt->weight_decay;
    float *w = v->W[l] + (size_t)j0 * n_out;
    float *vw = velocity ? v->vW[l] + (size_t)j0 * n_out : NULL;
    const fm_sparse *inputs[FM_MAX_PARTS];
    if (hidden_inputs(inputs, run, l, n)) { /* summed over the non-zeros, as the first layer */
        fm_sparse_update(v->W[l], velocity ? v->vW[l] : NULL, n_out, inputs, v->n_parts,
                         v->layer_delta[l], n_out, j0, j0 + rows, n_out, lr, mu, c);
        fm_pack_part(run, index, l);
        return;
    }
    const float *layer_in = l == 0 ? dense_inputs(run, start, turn) : v->acts[l],
                *in = layer_in + j0;
    if (run->blas->tiles) { /* the gradient and the step in one pass */
        fm_operands op = fm_row_major(in, n_in, 1, v->layer_delta[l], n_out);
        part *mine = &v->parts[index];
        if (v->packed_delta[l] != NULL)
            op = fm_packed_b(op, v->packed_delta[l], run->rows);
        if (mine->packed_inputs != NULL) { /* rows of the inputs far apart share cache sets */
            fm_pack_columns(mine->packed_inputs, layer_in, n_in, n, j0, rows);
            op = fm_packed_a(op, mine->packed_inputs, n);
        }
        int panels_only = l == 0 && run->plan->packed_first_layer; /* W written at the call's end */
        fm_tiles_sgd_step(panels_only ? NULL : w, vw, &op, n, rows, n_out, lr, mu, c,
                          v->packed_W[l], n_in, j0, l == 0 && run->plan->stream_panels);
        return;
    }
    size_t count = (size_t)rows * n_out;
    /* v = mu v + c w, then v -= lr g straight from the GEMM, then w += v; without weight
       decay the GEMM scales v by mu itself, as it writes (no pass of its own over v) */
    float beta = 1.0f;
    if (velocity && c == 0.0f)
        beta = mu;
    else if (velocity)
        fm_decay_velocity(vw, w, count, mu, c);
    fm_weight_gradient(run->blas, &v->parts[index], velocity ? vw : w, in, n_in, v->layer_delta[l],
                       n, rows, n_out, -lr, beta);
    if (velocity)
        fm_add_inplace(w, vw, count);
    fm_pack_part(run, index, l);
}

/* This part's weight rows and bias columns of every layer (by columns, the first layer's
   columns instead): one SGD step; then its weight rows packed, where the plan packs them. */
static void update_part(in_parts *run, int index, int64_t start, int n, int turn)
{
    const views *v = run->v;
    const fm_optimizer *opt = run->opt;
    int velocity = run->plan->update == FM_VELOCITY_SGD;
    float lr = opt->lr, mu = opt->momentum, c = -opt->lr * opt->weight_decay;
    for (int l = 0; l < v->L; l++) {
        if (l == 0 && run->plan->by_columns) {
            fm_update_first_layer_columns(run, index, n, turn);
            continue;
        }
        int n_in = v->s[l], n_out = v->s[l + 1];
        int j0 = part_begin(run, n_in, index), rows = part_end(run, n_in, index) - j0;
        int t0 = part_begin(run, n_out, index), t1 = part_end(run, n_out, index);
        fm_bias_step(v->b[l] + t0, velocity ? v->vb[l] + t0 : NULL, v->layer_delta[l] + t0, n,
                     n_out, t1 - t0, lr, mu, c);
        if (rows == 0)
            continue;
        step_weight_rows(run, index, l, j0, rows, start, n, turn);
    }
}

/* Adam and Nesterov momentum need the gradient itself: this part's weight rows and bias columns
   of it into the gradient buffer, then the optimizer's step on them. */
static void gradient_update_part(in_parts *run, int index, int64_t start, int n, int turn)
{
    const views *v = run->v;
    const fm_optimizer *opt = run->opt;
    double t = (double)opt->step + 1.0; /* thread 0 counts the step after the last barrier */
    float bc1 = (float)(1.0 - pow(opt->beta1, t)), bc2 = (float)(1.0 - pow(opt->beta2, t));
    for (int l = 0; l < v->L; l++) {
        int n_in = v->s[l], n_out = v->s[l + 1];
        int j0 = part_begin(run, n_in, index), rows = part_end(run, n_in, index) - j0;
        int t0 = part_begin(run, n_out, index), width = part_end(run, n_out, index) - t0;
        size_t at = (size_t)j0 * n_out, count = (size_t)rows * n_out;
        const float *dz = v->layer_delta[l];
        float *gb = v->gb[l] + t0;
        for (int c = 0; c < width; c++)
            gb[c] = 0.0f;
        for (int r = 0; r < n; r++)
            for (int c = 0; c < width; c++)
                gb[c] += dz[(size_t)r * n_out + t0 + c];
        const fm_sparse *inputs[FM_MAX_PARTS];
        part_inputs(inputs, v, turn);
        if ((l == 0 && run->plan->sparse_inputs) || hidden_inputs(inputs, run, l, n)) {
            fm_sparse_gradient(v->gW[l], inputs, v->n_parts, dz, n_out, j0, j0 + rows);
        } else if (rows > 0) {
            const float *in = (l == 0 ? dense_inputs(run, start, turn) : v->acts[l]) + j0;
            fm_weight_gradient(run->blas, &v->parts[index], v->gW[l] + at, in, n_in, dz, n, rows,
                               n_out, 1.0f, 0.0f);
        }
        if (opt->kind == FM_ADAM) {
            float *mb = v->mW[l] + (size_t)n_in * n_out + t0; /* the bias after W in the span */
            fm_adam_update(v->W[l] + at, v->vW[l] + at, v->mW[l] + at, v->gW[l] + at, count, opt,
                           bc1, bc2);
            fm_adam_update(v->b[l] + t0, v->vb[l] + t0, mb, gb, width, opt, bc1, bc2);
        } else {
            fm_sgd_update(v->W[l] + at, v->vW[l] + at, v->gW[l] + at, count, opt);
            fm_sgd_update(v->b[l] + t0, v->vb[l] + t0, gb, width, opt);
        }
        fm_pack_part(run, index, l);
    }
}

/* This part's columns of every layer's weights (its units' incoming weights) rescaled to at most
   the network's max_norm, as Keras' MaxNorm does, and the packed copy with them. */
static void max_norm_part(const in_parts *run, int index)
{
    const views *v = run->v;
    for (int l = 0; l < v->L; l++) {
        int n_in = v->s[l], n_out = v->s[l + 1];
        int c0 = part_begin(run, n_out, index), c1 = part_end(run, n_out, index);
        fm_max_norm_columns(v->W[l], v->packed_W[l], n_in, n_out, c0, c1, run->net->max_norm);
    }
}

/* The next minibatch's parts are gathered by whichever thread is free first: a thread done with
   its update takes the next part nobody has taken, so the other, held up by a slower update,
   does not keep it waiting at the barrier. Who gathers a part never changes what it holds. */
static void gather_next(in_parts *run, int step, int64_t start, int n, int turn)
{
#if !defined(_WIN32)
    int claimed = __atomic_load_n(&run->gathers_claimed, __ATOMIC_RELAXED);
    int parts = run->v->n_parts;
    while (claimed < parts * (step + 1)) {
        if (__atomic_compare_exchange_n(&run->gathers_claimed, &claimed, claimed + 1, 0,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            gather_part(run, claimed - parts * step, start, n, turn);
            claimed = __atomic_load_n(&run->gathers_claimed, __ATOMIC_RELAXED);
        }
    }
#else /* one thread runs the team there (team.c) */
    (void)step;
    for (int index = 0; index < run->v->n_parts; index++)
        gather_part(run, index, start, n, turn);
#endif
}

/* The next minibatch's part of rows, fetched towards the caches a step before gather_next reads
   them: shuffled, they come from anywhere in X, mostly from memory, and the gather waited on
   them. Whoever gathers the part later, the lines are near: in this core's L2 cache, or in the
   L3 cache the cores share. */
static void prefetch_next_part(const in_parts *run, int index, int64_t start, int n)
{
    int r0 = part_begin(run, n, index), m = part_end(run, n, index) - r0;
    fm_prefetch_rows(run->X, rows_in_order(run, start, r0, m), start + r0, m, run->v->s[0]);
}

static void count_step(in_parts *run, double loss, int64_t correct, int n)
{
    run->stats->loss_sum += loss;
    run->stats->correct += correct;
    run->stats->rows += n;
    run->stats->steps += 1;
    if (run->opt->kind == FM_ADAM)
        run->opt->step += 1;
}

static void run_thread(void *arg, int thread, int n_threads)
{
    in_parts *run = arg;
    const fm_plan *plan = run->plan;
    int first = first_part(run, thread, n_threads), last = last_part(run, thread, n_threads);
    int64_t end = run->first_batch + run->n_batches;
    int ahead = plan->sparse_inputs || plan->forward_by_columns; /* inputs gathered a step ahead */
    if (ahead || (plan->packed_operands && !run->weights_packed)) {
        int n = fm_rows_in_batch(run->n_rows, run->rows, run->first_batch);
        for (int index = first; index <= last; index++) {
            if (!run->weights_packed) /* the weights as the call found them */
                fm_pack_part_layers(run, index);
            if (plan->by_columns)
                fm_move_columns(run->v, index, 0);
            if (ahead) /* the first minibatch's inputs; the next ones a step ahead */
                gather_part(run, index, run->first_batch * run->rows, n, 0);
        }
        fm_team_barrier(&run->team);
    }
    for (int64_t batch = run->first_batch; batch < end; batch++) {
        int64_t start = batch * run->rows;
        int n = fm_rows_in_batch(run->n_rows, run->rows, batch);
        int turn = (int)((batch - run->first_batch) % 2);
        if (n == 0)
            break;
        if (plan->sparse_inputs && batch + 1 < end)
            for (int index = first; index <= last; index++)
                prefetch_next_part(run, index, start + run->rows,
                                   fm_rows_in_batch(run->n_rows, run->rows, batch + 1));
        if (plan->by_columns) { /* a third barrier; the gather a step ahead needs none */
            for (int index = first; index <= last; index++)
                fm_first_layer_columns(run, index, turn);
            fm_team_barrier(&run->team);
        }
        if (plan->forward_by_columns) { /* the same over dense inputs */
            for (int index = first; index <= last; index++)
                fm_dense_first_layer_columns(run, index, dense_inputs(run, start, turn), n);
            fm_team_barrier(&run->team);
        }
        for (int index = first; index <= last; index++)
            forward_backward_part(run, index, start, n, turn);
        fm_team_barrier(&run->team);
        /* every thread reads the same sums, so all stop on a non-finite loss */
        int64_t correct;
        double loss = parts_loss(run->v, &correct);
        if (!isfinite(loss)) {
            if (thread == 0)
                run->status = FM_NONFINITE_LOSS;
            break;
        }
        for (int index = first; index <= last; index++) {
            if (plan->update == FM_GRADIENT_STEP)
                gradient_update_part(run, index, start, n, turn);
            else
                update_part(run, index, start, n, turn);
        }
        if (ahead && batch + 1 < end) /* the other turn's inputs are free again */
            gather_next(run, (int)(batch - run->first_batch), start + run->rows,
                        fm_rows_in_batch(run->n_rows, run->rows, batch + 1), 1 - turn);
        /* max-norm: a unit's weights are a column, so every row is stepped first */
        if (run->net->max_norm > 0.0f) {
            fm_team_barrier(&run->team);
            for (int index = first; index <= last; index++)
                max_norm_part(run, index);
        }
        fm_team_barrier(&run->team);
        if (thread == 0)
            count_step(run, loss, correct, n);
    }
    for (int index = first; index <= last && plan->by_columns; index++)
        fm_move_columns(run->v, index, 1); /* no one reads the first layer until the call ends */
    /* each part's rows were stepped by this thread: they need no barrier */
    for (int index = first; index <= last && plan->packed_first_layer; index++)
        fm_unpack_rows(run->v->W[0], run->v->packed_W[0], run->v->s[0], run->v->s[1],
                       part_begin(run, run->v->s[0], index), part_end(run, run->v->s[0], index));
}

int fm_train_minibatches(const fm_blas *blas, const fm_net *net, fm_optimizer *opt,
                         const fm_workspace *ws, const float *X, const int32_t *y,
                         const int64_t *order, int64_t n_rows, int64_t first_batch,
                         int64_t n_batches, int n_threads, fm_stats *stats)
{
    views v;
    in_parts run = {0};
    fm_parts_set_up(&run, &v, blas, net, ws, X, y, n_rows);
    run.opt = opt;
    run.order = order;
    run.first_batch = first_batch;
    run.n_batches = n_batches;
    run.stats = stats;
    run.weights_packed = ws->weights_packed;
    if (ws->plan.by_columns)
        fm_point_columns(&v, ws->plan.update == FM_VELOCITY_SGD);
    fm_team_run(&run.team, run_thread, &run, part_threads(&run, n_threads));
    return run.status;
}
