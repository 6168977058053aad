/* The sparse first layer stepped by its output columns: with SGD over mostly-zero inputs, each
   part takes a fixed share of the first layer's columns for every row of the minibatch, on a
   private copy of them where the plan says, so that neither core reads lines the other has just
   written, nor do the prefetchers of the two cores fetch each other's halves of the shared rows.
   A dense first layer's forward pass may be cut the same way (the plan's forward_by_columns):
   cut by rows, each part read all of the layer's panels; cut by columns, a step reads them once. */
#include <string.h>

#include "parts.h"

void fm_point_columns(views *v, int velocity)
{
    for (int index = 0; index < v->n_parts; index++) {
        part *p = &v->parts[index];
        if (p->block != NULL) { /* copied in at the start of the call and back at its end */
            size_t bias_at = (size_t)v->s[0] * p->ld;
            p->weights = p->block;
            p->bias = p->block + bias_at;
            p->v_weights = velocity ? p->velocity_block : NULL;
            p->v_bias = velocity ? p->velocity_block + bias_at : NULL;
        } else { /* in place: a first layer too big for the caches anyway */
            p->weights = v->W[0] + p->col_begin;
            p->bias = v->b[0] + p->col_begin;
            p->v_weights = velocity ? v->vW[0] + p->col_begin : NULL;
            p->v_bias = velocity ? v->vb[0] + p->col_begin : NULL;
            p->ld = v->s[1];
        }
    }
}

/* A part's columns of the first layer (weights, then bias) copied into its block, or back. */
static void copy_columns(float *block, int ld, float *W, float *b, int n_in, int n_out,
                         int col_begin, int width, int back)
{
    for (int j = 0; j <= n_in; j++) {
        float *shared = (j < n_in ? W + (size_t)j * n_out : b) + col_begin;
        float *mine = block + (size_t)j * ld;
        memcpy(back ? shared : mine, back ? mine : shared, sizeof(float) * width);
    }
}

void fm_move_columns(const views *v, int index, int back)
{
    const part *p = &v->parts[index];
    if (p->block == NULL) /* in place */
        return;
    copy_columns(p->block, p->ld, v->W[0], v->b[0], v->s[0], v->s[1], p->col_begin, p->width, back);
    if (p->v_weights != NULL)
        copy_columns(p->velocity_block, p->ld, v->vW[0], v->vb[0], v->s[0], v->s[1], p->col_begin,
                     p->width, back);
}

void fm_first_layer_columns(in_parts *run, int index, int turn)
{
    const views *v = run->v;
    const part *mine = &v->parts[index];
    for (int h = 0; h < v->n_parts; h++) {
        const fm_sparse *x = &v->parts[h].inputs[turn];
        fm_sparse_forward(v->acts[1] + (size_t)x->first_row * v->s[1] + mine->col_begin, v->s[1], x,
                          mine->weights, mine->ld, mine->bias, mine->width,
                          fm_part_activation(run, 0));
    }
}

void fm_dense_first_layer_columns(const in_parts *run, int index, const float *x, int n)
{
    const views *v = run->v;
    int c0 = fm_panel_column_begin(v->s[1], index, v->n_parts);
    int c1 = fm_panel_column_begin(v->s[1], index + 1, v->n_parts);
    if (c1 > c0)
        fm_tiles_forward_columns(v->acts[1], v->s[1], x, v->packed_W[0], v->b[0], n, v->s[0], c0,
                                 c1 - c0, fm_part_activation(run, 0));
}

void fm_update_first_layer_columns(in_parts *run, int index, int n, int turn)
{
    views *v = run->v;
    const fm_optimizer *opt = run->opt;
    float lr = opt->lr, mu = opt->momentum, c = -opt->lr * opt->weight_decay;
    part *mine = &v->parts[index];
    const float *dz = v->layer_delta[0] + mine->col_begin;
    const fm_sparse *inputs[FM_MAX_PARTS];
    part_inputs(inputs, v, turn);
    fm_bias_step(mine->bias, mine->v_bias, dz, n, v->s[1], mine->width, lr, mu, c);
    fm_sparse_update(mine->weights, mine->v_weights, mine->ld, inputs, v->n_parts, dz, v->s[1], 0,
                     v->s[0], mine->width, lr, mu, c);
}
