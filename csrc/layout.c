/* The layouts: the arena (parameters, gradients, optimizer state), and the workspace a plan
   needs, each measured and carved by one routine; and the gathering of a minibatch into it. */
#include <string.h>

#include "engine.h"

/* Where each layer's weights start in the arena; returns the floats it holds. The one layout of
   the parameters, their gradients and the optimizer's state. */
static size_t arena_offsets(size_t *at, const int *s, int L)
{
    size_t count = 0;
    for (int l = 0; l < L; l++) {
        at[l] = count;
        count += (size_t)s[l] * s[l + 1] + s[l + 1];
    }
    return count;
}

size_t fm_param_count(const int *sizes, int n_layers)
{
    size_t at[FM_MAX_LAYERS];
    return arena_offsets(at, sizes, n_layers);
}

int fm_widest_layer(const int *sizes, int n_layers)
{
    int widest = 1;
    for (int l = 1; l <= n_layers; l++)
        widest = sizes[l] > widest ? sizes[l] : widest;
    return widest;
}

int fm_part_begin(int count, int index, int parts)
{
    return (int)((int64_t)count * index / parts);
}

/* part index's begin in count, rounded down to a multiple of grain (the end stays count) */
static int cut_on(int count, int index, int parts, int grain)
{
    int begin = fm_part_begin(count, index, parts);
    return index < parts ? begin - begin % grain : begin;
}

/* Columns are cut on whole blocks of the sparse kernels (64) where the layer is wide enough for
   two, else on whole vectors of 8 floats where it is wide enough for one a part: a part of a
   narrower width takes their slow tails. */
int fm_column_begin(int n_out, int index, int parts)
{
    return cut_on(n_out, index, parts, n_out >= 2 * 64 ? 64 : n_out >= 8 * parts ? 8 : 1);
}

/* ... or on whole panels of the tiles, whose weights a part then reads whole */
int fm_panel_column_begin(int n_out, int index, int parts)
{
    return cut_on(n_out, index, parts, FM_TILE_COLS);
}

int fm_block_ld(int width)
{
    return (width + FM_ALIGN - 1) / FM_ALIGN * FM_ALIGN;
}

/* Regions of a buffer, one after the other, each from a cache line of its own; with base NULL,
   only measured. */
typedef struct {
    char *base;
    size_t used; /* bytes */
} cursor;

static void *take(cursor *c, size_t bytes)
{
    size_t line = sizeof(float) * FM_ALIGN;
    c->used = (c->used + line - 1) / line * line;
    void *region = c->base != NULL ? c->base + c->used : NULL;
    c->used += bytes;
    return region;
}

static float *take_floats(cursor *c, size_t count)
{
    return take(c, sizeof(float) * count);
}

static void take_sparse(cursor *c, fm_sparse *s, int n_in, int rows, int width)
{
    size_t slots = fm_sparse_layout(s, NULL, n_in, rows, width);
    int32_t *buffer = take(c, sizeof(int32_t) * slots);
    if (buffer != NULL)
        fm_sparse_layout(s, buffer, n_in, rows, width);
}

/* The widest part of the first layer's columns: by columns, the widest forward pass over a
   part's rows, which its lists of inputs are made for. */
static int widest_columns(int n_out, int parts)
{
    int widest = 0;
    for (int index = 0; index < parts; index++) {
        int width = fm_column_begin(n_out, index + 1, parts) - fm_column_begin(n_out, index, parts);
        widest = width > widest ? width : widest;
    }
    return widest;
}

/* Whether the weight gradients read packed operands: SGD's, through the tiles' step. */
static int packed_gradients(const fm_plan *plan)
{
    return plan->packed_operands &&
           (plan->update == FM_PLAIN_SGD || plan->update == FM_VELOCITY_SGD);
}

/* The most inputs of a layer a part steps the weight rows of (sparse inputs: from layer 1 on). */
static int widest_share(const int *s, int L, int parts, const fm_plan *plan)
{
    int widest = 0;
    for (int l = plan->sparse_inputs ? 1 : 0; l < L; l++) {
        int share = (s[l] + parts - 1) / parts;
        widest = share > widest ? share : widest;
    }
    return widest;
}

/* A part's columns of the first layer, on a private copy of them where the plan says. */
static void lay_out_columns(cursor *c, part *p, int index, const int *s, const fm_plan *plan)
{
    int P = plan->parts;
    p->col_begin = fm_column_begin(s[1], index, P);
    p->width = fm_column_begin(s[1], index + 1, P) - p->col_begin;
    p->ld = fm_block_ld(p->width);
    if (!plan->private_columns)
        return;
    size_t floats = ((size_t)s[0] + 1) * p->ld;
    p->block = take_floats(c, floats);
    if (plan->update == FM_VELOCITY_SGD)
        p->velocity_block = take_floats(c, floats);
}

/* A part's rows: scratch for its passes, its lists of non-zeros, and by columns its columns of
   the first layer (a private copy of them where the plan says). */
static void lay_out_part(cursor *c, part *p, int index, const int *s, int L, const fm_plan *plan)
{
    int P = plan->parts, rows = (plan->rows + P - 1) / P; /* the most rows a part holds */
    p->scratch_floats = 2 * (size_t)fm_widest_layer(s, L) * rows;
    p->scratch = take_floats(c, p->scratch_floats);
    if (packed_gradients(plan))
        p->packed_inputs =
            take_floats(c, fm_packed_columns_floats(plan->rows, widest_share(s, L, P, plan)));
    for (int l = 1; l < L; l++)
        if (plan->hidden_lists >> l & 1)
            take_sparse(c, &p->hidden[l], s[l], rows, s[l + 1]);
    if (!plan->sparse_inputs)
        return;
    for (int turn = 0; turn < 2; turn++)
        take_sparse(c, &p->inputs[turn], s[0], rows, widest_columns(s[1], P));
    lay_out_columns(c, p, index, s, plan);
}

/* Batch 1 by columns: the parts, each with its columns of the first layer alone. */
static void lay_out_column_parts(cursor *c, views *v, const int *s, const fm_plan *plan)
{
    v->n_parts = plan->parts;
    v->parts = take(c, sizeof(part) * plan->parts);
    for (int index = 0; index < plan->parts; index++) {
        part measured;
        part *p = v->parts != NULL ? &v->parts[index] : &measured;
        memset(p, 0, sizeof(*p));
        lay_out_columns(c, p, index, s, plan);
    }
}

/* The parts themselves, each with its layers' lists, then each part's buffers. */
static void lay_out_parts(cursor *c, views *v, const int *s, int L, const fm_plan *plan)
{
    v->n_parts = plan->parts;
    v->parts = take(c, sizeof(part) * plan->parts);
    for (int index = 0; index < plan->parts; index++) {
        part measured;
        fm_sparse hidden[FM_MAX_LAYERS];
        part *p = v->parts != NULL ? &v->parts[index] : &measured;
        memset(p, 0, sizeof(*p));
        p->hidden = take(c, sizeof(fm_sparse) * L);
        if (p->hidden == NULL)
            p->hidden = hidden;
        lay_out_part(c, p, index, s, L, plan);
    }
}

/* The workspace of a plan: measured (buffer NULL; returns the floats it needs) or carved into v. */
static size_t lay_out_workspace(views *v, const int *s, int L, const fm_plan *plan, float *buffer)
{
    cursor c = {NULL, 0};
    if (buffer != NULL) /* the buffer's first whole line: every region then starts on one */
        c.base = (char *)(((uintptr_t)buffer + sizeof(float) * FM_ALIGN - 1) &
                          ~(uintptr_t)(sizeof(float) * FM_ALIGN - 1));
    size_t rows = (size_t)plan->rows;
    for (int l = 0; l <= L; l++)
        v->acts[l] = take_floats(&c, rows * s[l]);
    if (plan->forward_by_columns)
        v->next_inputs = take_floats(&c, rows * s[0]);
    v->labels = take(&c, sizeof(int32_t) * rows * plan->target_words);
    if (plan->parts == 1 || plan->batch1_columns) { /* each row whole */
        v->delta[0] = take_floats(&c, rows * fm_widest_layer(s, L));
        v->delta[1] = take_floats(&c, rows * fm_widest_layer(s, L));
        if (plan->batch1_columns)
            lay_out_column_parts(&c, v, s, plan);
    } else {
        for (int l = 0; l < L; l++)
            v->layer_delta[l] = take_floats(&c, rows * s[l + 1]);
        lay_out_parts(&c, v, s, L, plan);
        for (int l = plan->sparse_inputs ? 1 : 0; l < L && plan->packed_operands; l++) {
            /* the dense first layer's weights in panels; the layers after read theirs in place:
               every part reads all of a hidden layer at each step, and its panels were a second
               copy of it to move between the cores */
            if (l == 0)
                v->packed_W[l] = take_floats(&c, fm_packed_floats(s[l], s[l + 1]));
            if (packed_gradients(plan))
                v->packed_delta[l] = take_floats(&c, fm_packed_floats(plan->rows, s[l + 1]));
        }
    }
    if (plan->lazy_first_layer) {
        v->stamp = take(&c, sizeof(int32_t) * s[0]);
        v->powers = take_floats(&c, 4 * ((size_t)FM_LAZY_MAX_STEPS + 1));
    }
    return (c.used + sizeof(float) - 1) / sizeof(float) + FM_ALIGN; /* and the line's start */
}

size_t fm_workspace_size(const int *sizes, int n_layers, const fm_plan *plan)
{
    views measured;
    return lay_out_workspace(&measured, sizes, n_layers, plan, NULL);
}

static float *offset(float *base, size_t at)
{
    return base ? base + at : NULL;
}

void fm_make_views(views *v, const fm_net *net, const fm_workspace *ws)
{
    size_t at[FM_MAX_LAYERS];
    memset(v, 0, sizeof(*v));
    v->L = net->n_layers;
    v->s = net->sizes;
    arena_offsets(at, v->s, v->L);
    for (int l = 0; l < v->L; l++) {
        size_t w = (size_t)v->s[l] * v->s[l + 1];
        v->W[l] = net->params + at[l];
        v->b[l] = net->params + at[l] + w;
        v->gW[l] = offset(net->grads, at[l]);
        v->gb[l] = offset(net->grads, at[l] + w);
        v->vW[l] = offset(net->state1, at[l]);
        v->vb[l] = offset(net->state1, at[l] + w);
        v->mW[l] = offset(net->state2, at[l]);
        v->span[l] = w + v->s[l + 1];
    }
    lay_out_workspace(v, v->s, v->L, &ws->plan, ws->buffer);
}

void fm_gather_rows(float *dst, int32_t *labels, int target_words, const float *X, const int32_t *y,
                    const int64_t *rows, int n, int width)
{
    for (int i = 0; i < n; i++) {
        /* the next row on its way while this one is copied: shuffled rows come from anywhere in
           X, and the copy waited on memory (64 rows of 784: 90k -> 66k cycles a thread) */
        if (i + 1 < n)
            fm_prefetch_rows(X, rows + i + 1, 0, 1, width);
        memcpy(dst + (size_t)i * width, X + (size_t)rows[i] * width, sizeof(float) * width);
        memcpy(labels + (size_t)i * target_words, y + (size_t)rows[i] * target_words,
               sizeof(int32_t) * target_words);
    }
}

int fm_rows_in_batch(int64_t n_rows, int batch_size, int64_t batch)
{
    int64_t left = n_rows - batch * batch_size;
    return (int)(left < 0 ? 0 : left < batch_size ? left : batch_size);
}
