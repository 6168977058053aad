/* A whole block of rows through the network, one layer after the other: the forward pass, and
   the backward pass to the gradients (loss_and_gradients, batch 1's Adam and Nesterov). */
#include "engine.h"

void fm_forward(const fm_blas *blas, const views *v, const float *x, float *logits, int n,
                int activation)
{
    for (int l = 0; l < v->L; l++) {
        const float *in = l == 0 ? x : v->acts[l];
        float *out = l == v->L - 1 ? logits : v->acts[l + 1];
        int act = l == v->L - 1 ? FM_IDENTITY : activation;
        fm_dense_forward(blas, out, in, v->W[l], v->b[l], n, v->s[l], v->s[l + 1], act);
    }
}

void fm_backward_gradients(const fm_blas *blas, const views *v, const float *x, int n,
                           int activation)
{
    int cur = 0; /* the deltas take turns: dz of layer l is dx of layer l + 1 */
    for (int l = v->L - 1; l >= 0; l--) {
        const float *in = l == 0 ? x : v->acts[l];
        float *dz = v->delta[cur];
        float *dx = l == 0 ? NULL : v->delta[1 - cur];
        fm_dense_backward(blas, dx, v->gW[l], v->gb[l], dz, in, v->W[l], n, v->s[l], v->s[l + 1],
                          1.0f, 0.0f);
        if (dx != NULL)
            fm_act_backward(dx, v->acts[l], n, v->s[l], activation);
        cur = 1 - cur;
    }
}
