/* The layout of the arena (parameters, gradients, optimizer state) and of the workspace, and
   the gathering of a minibatch into it. */
#include <string.h>

#include "views.h"

size_t fm_param_count(const int *sizes, int n_layers)
{
    size_t count = 0;
    for (int l = 0; l < n_layers; l++)
        count += (size_t)sizes[l] * sizes[l + 1] + sizes[l + 1];
    return count;
}

int fm_widest_layer(const int *sizes, int n_layers)
{
    int widest = 0;
    for (int l = 1; l <= n_layers; l++)
        widest = sizes[l] > widest ? sizes[l] : widest;
    return widest;
}

size_t fm_workspace_size(const int *sizes, int n_layers, int max_rows)
{
    size_t per_row = 0;
    for (int l = 0; l <= n_layers; l++)
        per_row += sizes[l];
    per_row += 2 * (size_t)fm_widest_layer(sizes, n_layers) + 1;  /* two deltas, one label */
    size_t regions = (size_t)n_layers + 4;  /* each aligned (fm_make_views), and the start */
    return per_row * max_rows + sizes[0] + 4 * ((size_t)FM_LAZY_MAX_STEPS + 1) + FM_ALIGN * regions;
}

static float *offset(float *base, size_t at)
{
    return base ? base + at : NULL;
}

void fm_make_views(views *v, const fm_net *net, const fm_workspace *ws)
{
    v->L = net->n_layers;
    v->s = net->sizes;
    size_t at = 0;
    for (int l = 0; l < v->L; l++) {
        size_t w = (size_t)v->s[l] * v->s[l + 1];
        v->W[l] = net->params + at;
        v->b[l] = net->params + at + w;
        v->gW[l] = offset(net->grads, at);
        v->gb[l] = offset(net->grads, at + w);
        v->vW[l] = offset(net->state1, at);
        v->vb[l] = offset(net->state1, at + w);
        v->mW[l] = offset(net->state2, at);
        v->span[l] = w + v->s[l + 1];
        at += v->span[l];
    }
    v->lazy = 0;
    v->step = 0;
    if (ws == NULL)
        return;
    float *p = ws->buffer;
    for (int l = 0; l <= v->L; l++) {
        v->acts[l] = p = fm_aligned(p);
        p += (size_t)ws->max_rows * v->s[l];
    }
    size_t widest = (size_t)ws->max_rows * fm_widest_layer(v->s, v->L);
    v->delta[0] = p = fm_aligned(p);
    v->delta[1] = p = fm_aligned(p + widest);
    p = fm_aligned(p + widest);
    v->labels = (int32_t *)p;
    v->stamp = (int32_t *)(p + ws->max_rows);
    v->powers = p + ws->max_rows + v->s[0];
}

void fm_gather_rows(float *dst, int32_t *labels, const float *X, const int32_t *y,
                    const int64_t *rows, int n, int width)
{
    for (int i = 0; i < n; i++) {
        memcpy(dst + (size_t)i * width, X + (size_t)rows[i] * width, sizeof(float) * width);
        labels[i] = y[rows[i]];
    }
}

int fm_rows_in_batch(int64_t n_rows, int batch_size, int64_t batch)
{
    int64_t left = n_rows - batch * batch_size;
    return (int)(left < 0 ? 0 : left < batch_size ? left : batch_size);
}
