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
