/* Hidden-layer activations and their derivatives. Each loop has the activation fixed outside
   it, so the compiler can vectorise the body. */
#include <math.h>

#include "fastmlp.h"

FM_VECTORIZED
void fm_bias_act_forward(float *z, const float *bias, int n, int m, int activation)
{
    /* z: (n, m) in place; bias: (m,) */
    for (int i = 0; i < n; i++) {
        float *row = z + (size_t)i * m;
        switch (activation) {
        case FM_RELU:
            for (int j = 0; j < m; j++) {
                float v = row[j] + bias[j];
                row[j] = v > 0.0f ? v : 0.0f;
            }
            break;
        case FM_LEAKY_RELU:
            for (int j = 0; j < m; j++) {
                float v = row[j] + bias[j];
                row[j] = v > 0.0f ? v : FM_LEAKY_SLOPE * v;
            }
            break;
        case FM_SIGMOID:
            for (int j = 0; j < m; j++)
                row[j] = 1.0f / (1.0f + expf(-(row[j] + bias[j])));
            break;
        case FM_TANH:
            for (int j = 0; j < m; j++)
                row[j] = tanhf(row[j] + bias[j]);
            break;
        default:
            for (int j = 0; j < m; j++)
                row[j] += bias[j];
        }
    }
}

FM_VECTORIZED
void fm_act_backward(float *delta, const float *a, int n, int m, int activation)
{
    /* delta, a: (n, m); the derivative is written in terms of the output a, so the
       pre-activations never need to be stored. */
    size_t count = (size_t)n * m;
    switch (activation) {
    case FM_RELU:
        for (size_t i = 0; i < count; i++)
            delta[i] = a[i] > 0.0f ? delta[i] : 0.0f;
        break;
    case FM_LEAKY_RELU:
        for (size_t i = 0; i < count; i++)
            delta[i] *= a[i] > 0.0f ? 1.0f : FM_LEAKY_SLOPE;
        break;
    case FM_SIGMOID:
        for (size_t i = 0; i < count; i++)
            delta[i] *= a[i] * (1.0f - a[i]);
        break;
    case FM_TANH:
        for (size_t i = 0; i < count; i++)
            delta[i] *= 1.0f - a[i] * a[i];
        break;
    default:
        break;
    }
}
