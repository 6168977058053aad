/* Optimizer updates over flat buffers laid out like the parameter arena. */
#include <math.h>

#include "fastmlp.h"

FM_VECTORIZED
void fm_sgd_update(float *p, float *v, const float *g, size_t count, const fm_optimizer *opt)
{
    /* p, v, g: (count,) */
    const float lr = opt->lr, mu = opt->momentum, wd = opt->weight_decay;
    if (mu == 0.0f) {
        for (size_t i = 0; i < count; i++)
            p[i] -= lr * (g[i] + wd * p[i]);
        return;
    }
    if (opt->nesterov) {
        for (size_t i = 0; i < count; i++) {
            float step = -lr * (g[i] + wd * p[i]);
            v[i] = mu * v[i] + step;
            p[i] += mu * v[i] + step;
        }
        return;
    }
    for (size_t i = 0; i < count; i++) {
        v[i] = mu * v[i] - lr * (g[i] + wd * p[i]);
        p[i] += v[i];
    }
}

FM_VECTORIZED
void fm_adam_update(float *p, float *m, float *v, const float *g, size_t count,
                    const fm_optimizer *opt, float bc1, float bc2)
{
    /* p, m, v, g: (count,); bc1, bc2: the bias corrections 1 - beta^t of this step */
    const float b1 = opt->beta1, b2 = opt->beta2, wd = opt->weight_decay, eps = opt->eps;
    const float step = opt->lr / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
    for (size_t i = 0; i < count; i++) {
        float gi = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

FM_VECTORIZED
void fm_decay_velocity(float *v, const float *p, size_t count, float mu, float c)
{
    /* v = mu * v + c * p: momentum and weight decay folded in before the gradient lands */
    for (size_t i = 0; i < count; i++)
        v[i] = mu * v[i] + c * p[i];
}

FM_VECTORIZED
void fm_add_inplace(float *p, const float *d, size_t count)
{
    for (size_t i = 0; i < count; i++)
        p[i] += d[i];
}

FM_VECTORIZED
void fm_bias_step(float *b, float *vb, const float *dz, int n, int ld, int count, float lr,
                  float mu, float c)
{
    /* g = column sums of dz (n rows of ld, first count columns); v = mu v + c b - lr g, b += v,
       or b -= lr g without a velocity (vb NULL). Summed in blocks that stay in registers. */
    enum { BLOCK = 64 };
    for (int t0 = 0; t0 < count; t0 += BLOCK) {
        int width = count - t0 < BLOCK ? count - t0 : BLOCK;
        float g[BLOCK] = {0.0f};
        for (int r = 0; r < n; r++)
            for (int t = 0; t < width; t++)
                g[t] += dz[(size_t)r * ld + t0 + t];
        for (int t = 0; t < width; t++) {
            if (vb == NULL) {
                b[t0 + t] -= lr * g[t];
                continue;
            }
            float vt = mu * vb[t0 + t] + c * b[t0 + t] - lr * g[t];
            vb[t0 + t] = vt;
            b[t0 + t] += vt;
        }
    }
}

void fm_max_norm_columns(float *W, float *packed, int n_in, int n_out, int c0, int c1,
                         float max_norm)
{
    for (int j = c0; j < c1; j++) {
        double squares = 0.0;
        for (int i = 0; i < n_in; i++)
            squares += (double)W[(size_t)i * n_out + j] * W[(size_t)i * n_out + j];
        float norm = (float)sqrt(squares);
        if (norm <= max_norm)
            continue;
        float scale = max_norm / (FM_MAX_NORM_EPS + norm); /* Keras' MaxNorm */
        for (int i = 0; i < n_in; i++) {
            W[(size_t)i * n_out + j] *= scale;
            if (packed != NULL)
                packed[fm_packed_at((int64_t)FM_TILE_COLS * n_in, i, j)] = W[(size_t)i * n_out + j];
        }
    }
}
