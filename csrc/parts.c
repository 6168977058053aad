/* What minibatch training and inference in parts share: setting a call up, a ReLU's zeros
   skipped by the layer after it, and the products shaped for OpenBLAS's small kernels. */
#include "parts.h"

void fm_parts_set_up(in_parts *run, views *v, const fm_blas *blas, const fm_net *net,
                     const fm_workspace *ws, const float *X, const int32_t *y, int64_t n_rows)
{
    fm_make_views(v, net, ws);
    run->blas = blas;
    run->net = net;
    run->plan = &ws->plan;
    run->v = v;
    run->X = X;
    run->y = y;
    run->n_rows = n_rows;
    run->rows = ws->plan.rows;
    run->status = FM_OK;
}

int fm_part_activation(const in_parts *run, int l)
{
    return l == run->v->L - 1 ? FM_IDENTITY : run->net->activation;
}

/* Above this share of non-zero inputs, a hidden layer's rows go to the GEMMs: the sparse kernels
   are for skipping zeros, not GEMMs of our own. Decided each step, from that step's zeros. */
#define SPARSE_HIDDEN_MAX_SHARE 0.5

int fm_mostly_zeros(int64_t nnz, int rows, int n_in)
{
    return nnz <= SPARSE_HIDDEN_MAX_SHARE * rows * n_in;
}

int fm_lists_inputs(const in_parts *run, int l)
{
    return l >= 1 && (run->plan->hidden_lists >> l & 1);
}

int fm_sparse_hidden_forward(const in_parts *run, part *mine, float *out, int l, int r0, int m)
{
    const views *v = run->v;
    int n_in = v->s[l], n_out = v->s[l + 1];
    if (!fm_lists_inputs(run, l))
        return 0;
    fm_sparse *x = &mine->hidden[l];
    fm_sparse_gather(x, NULL, 0, v->acts[l], NULL, NULL, r0, m, r0);
    if (!fm_mostly_zeros(x->nnz, m, n_in))
        return 0;
    fm_sparse_forward(out, n_out, x, v->W[l], n_out, v->b[l], n_out, fm_part_activation(run, l));
    return 1;
}

void fm_part_dense_forward(const in_parts *run, float *out, const float *in, int l, int m)
{
    const views *v = run->v;
    int act = fm_part_activation(run, l);
    if (v->packed_W[l] != NULL)
        fm_tiles_forward(out, in, NULL, v->packed_W[l], v->b[l], m, v->s[l], v->s[l + 1], act);
    else
        fm_dense_forward(run->blas, out, in, v->W[l], v->b[l], m, v->s[l], v->s[l + 1], act);
}

void fm_pack_part(const in_parts *run, int index, int l)
{
    const views *v = run->v;
    if (v->packed_W[l] != NULL)
        fm_pack_rows(v->packed_W[l], v->W[l], v->s[l], v->s[l + 1], part_begin(run, v->s[l], index),
                     part_end(run, v->s[l], index));
}

void fm_pack_part_layers(const in_parts *run, int index)
{
    for (int l = 0; l < run->v->L; l++)
        fm_pack_part(run, index, l);
}

/* For OpenBLAS's small-matrix kernels (fm_gemm_rows): in pieces of rows small enough for them,
   each taken as dx^T = W dl^T between transposed copies of its two small operands, since the
   kernels take A B but not A B^T. A BLAS without those kernels (OpenBLAS's Haswell set) gets the
   whole product the same way: it packs A B faster than A B^T there too. */
void fm_backward_product(const fm_blas *blas, float *dx, const float *dl, const float *W, int m,
                         int n_in, int n_out, float *scratch)
{
    int piece = blas->small_kernels ? fm_small_rows(blas, m, n_in, n_out) : m;
    if (piece == 0) { /* too wide for the small kernels */
        fm_gemm(blas, 0, 1, m, n_in, n_out, 1.0f, dl, n_out, W, n_out, 0.0f, dx, n_in);
        return;
    }
    for (int r = 0; r < m; r += piece) {
        int rows = m - r < piece ? m - r : piece;
        float *dl_t = scratch, *dx_t = scratch + (size_t)n_out * rows;
        fm_transpose(dl_t, dl + (size_t)r * n_out, rows, n_out);
        fm_gemm(blas, 0, 0, n_in, rows, n_out, 1.0f, W, n_out, dl_t, rows, 0.0f, dx_t, rows);
        fm_transpose(dx + (size_t)r * n_in, dx_t, n_in, rows);
    }
}

/* A product too big for OpenBLAS's small kernels goes to them in pieces after all, from a
   transposed copy of in (A^T B is not a form they take): the pieces outrun the whole product. */
void fm_weight_gradient(const fm_blas *blas, const part *mine, float *C, const float *in, int ld_in,
                        const float *dz, int n, int rows, int n_out, float alpha, float beta)
{
    /* small as a whole, A^T B runs as fast as A B: no copy then */
    int piece = fm_small_rows(blas, rows, n_out, n);
    if (piece == rows || piece == 0 || (size_t)rows * n > mine->scratch_floats) {
        fm_gemm(blas, 1, 0, rows, n_out, n, alpha, in, ld_in, dz, n_out, beta, C, n_out);
        return;
    }
    fm_transpose_ld(mine->scratch, in, n, rows, ld_in);
    fm_gemm_rows(blas, rows, n_out, n, alpha, mine->scratch, n, dz, n_out, beta, C, n_out);
}
