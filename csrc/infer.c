/* Inference: the network's outputs (fm_predict) or its loss and hits (fm_evaluate), over blocks
   of the plan's rows; whole, or each block cut in parts whose threads meet only at the end. The
   first layer reads mostly-zero inputs as non-zeros where the plan says. */
#include "parts.h"

/* One part of the block of rows [start, start + n): forward, then the outputs (run->out) or the
   loss and hits added to the part's tallies. The threads do not wait for each other between
   blocks, so each part keeps to its own rows of the workspace, [w0, w0 + m), whatever the size
   of the block (the last one is shorter). */
static void infer_part(in_parts *run, int index, int64_t start, int n)
{
    views *v = run->v;
    int L = v->L, k = v->s[L];
    int r0 = part_begin(run, n, index), m = part_end(run, n, index) - r0;
    int w0 = part_begin(run, run->rows, index);
    part *mine = &v->parts[index];
    if (m == 0)
        return;
    float *logits =
        run->out != NULL ? run->out + (size_t)(start + r0) * k : v->acts[L] + (size_t)w0 * k;
    if (run->plan->sparse_inputs)
        fm_sparse_gather(&mine->inputs[0], NULL, 0, run->X, NULL, NULL, start + r0, m, w0);
    for (int l = 0; l < L; l++) {
        float *dst = l == L - 1 ? logits : v->acts[l + 1] + (size_t)w0 * v->s[l + 1];
        int act = fm_part_activation(run, l);
        const float *in =
            l == 0 ? run->X + (size_t)(start + r0) * v->s[0] : v->acts[l] + (size_t)w0 * v->s[l];
        if (l == 0 && run->plan->sparse_inputs)
            fm_sparse_forward(dst, v->s[1], &mine->inputs[0], v->W[0], v->s[1], v->b[0], v->s[1],
                              act);
        else if (!fm_sparse_hidden_forward(run, mine, dst, l, w0, m))
            fm_part_dense_forward(run, dst, in, l, m);
    }
    if (run->out != NULL)
        fm_head_output(logits, m, k, run->net->head);
    else
        mine->loss +=
            fm_head_loss(logits, NULL, run->y + (size_t)(start + r0) * run->plan->target_words, m,
                         k, run->net->head, 1.0f, &mine->correct);
}

static void infer_thread(void *arg, int thread, int n_threads)
{
    in_parts *run = arg;
    int first = first_part(run, thread, n_threads), last = last_part(run, thread, n_threads);
    for (int64_t start = 0; start < run->n_rows; start += run->rows) {
        int n = (int)(run->n_rows - start < run->rows ? run->n_rows - start : run->rows);
        for (int index = first; index <= last; index++)
            infer_part(run, index, start, n);
    }
}

/* out (n_rows, k) gets the outputs; with out NULL, the loss against y (n_rows,) and the hits are
   added to stats instead. */
static void infer_in_parts(const fm_blas *blas, const fm_net *net, const fm_workspace *ws,
                           float *out, const float *X, const int32_t *y, int64_t n_rows,
                           int n_threads, fm_stats *stats)
{
    views v;
    in_parts run = {0};
    fm_parts_set_up(&run, &v, blas, net, ws, X, y, n_rows);
    for (int index = 0; index < v.n_parts; index++) { /* no weight gradient: no lists by
                                                        columns, which would cost time */
        v.parts[index].inputs[0].columns = 0;
        for (int l = 1; l < v.L; l++)
            v.parts[index].hidden[l].columns = 0;
    }
    run.out = out;
    fm_team_run(&run.team, infer_thread, &run, part_threads(&run, n_threads));
    if (out == NULL) {
        int64_t correct;
        double loss = parts_loss(&v, &correct);
        stats->loss_sum += loss;
        stats->correct += correct;
        stats->rows += n_rows;
    }
}

void fm_predict(const fm_blas *blas, const fm_net *net, fm_workspace *ws, float *out,
                const float *X, int64_t n_rows, int n_threads)
{
    if (ws->plan.parts > 1) {
        infer_in_parts(blas, net, ws, out, X, NULL, n_rows, n_threads, NULL);
        return;
    }
    /* out: (n_rows, k); X: (n_rows, sizes[0]) */
    views v;
    fm_make_views(&v, net, ws);
    int k = v.s[v.L], width = v.s[0], rows = ws->plan.rows;
    for (int64_t start = 0; start < n_rows; start += rows) {
        int n = (int)(n_rows - start < rows ? n_rows - start : rows);
        float *logits = out + (size_t)start * k;
        fm_forward(blas, &v, X + (size_t)start * width, logits, n, net->activation);
        fm_head_output(logits, n, k, net->head);
    }
}

void fm_evaluate(const fm_blas *blas, const fm_net *net, fm_workspace *ws, const float *X,
                 const int32_t *y, int64_t n_rows, int n_threads, fm_stats *stats)
{
    if (ws->plan.parts > 1) {
        infer_in_parts(blas, net, ws, NULL, X, y, n_rows, n_threads, stats);
        return;
    }
    /* X: (n_rows, sizes[0]); y: (n_rows,) */
    views v;
    fm_make_views(&v, net, ws);
    int L = v.L, k = v.s[L], width = v.s[0], rows = ws->plan.rows;
    for (int64_t start = 0; start < n_rows; start += rows) {
        int n = (int)(n_rows - start < rows ? n_rows - start : rows);
        fm_forward(blas, &v, X + (size_t)start * width, v.acts[L], n, net->activation);
        stats->loss_sum += fm_head_loss(v.acts[L], NULL, y + (size_t)start * ws->plan.target_words,
                                        n, k, net->head, 1.0f, &stats->correct);
        stats->rows += n;
    }
}
