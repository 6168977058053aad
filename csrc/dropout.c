/* Dropout on hidden layers, drawn from a counter-based stream: whether a unit is kept is a hash
   of (seed, step, row, layer, unit), so any part, any thread and the NumPy reference draw the same
   masks, and nothing is stored between the forward and the backward pass. */
#include "fastmlp.h"

/* SplitMix64's finaliser: every bit of the key reaches every bit of the result. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

int fm_dropout_keeps(uint64_t seed, int64_t step, int64_t row, int layer, int unit, float rate)
{
    uint64_t key = seed + (uint64_t)step * 0x9e3779b97f4a7c15ULL +
                   (uint64_t)row * 0xc2b2ae3d27d4eb4fULL + (uint64_t)layer * 0x165667b19e3779f9ULL +
                   (uint64_t)unit * 0xd6e8feb86659fd93ULL;
    uint32_t draw = (uint32_t)(mix(key) >> 40); /* 24 bits: uniform in [0, 2^24) */
    return draw >= (uint32_t)(rate * (float)(1 << 24));
}

void fm_dropout_forward(float *a, int n, int width, uint64_t seed, int64_t step, int64_t first_row,
                        int layer, float rate)
{
    float scale = 1.0f / (1.0f - rate);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < width; j++) {
            float *x = a + (size_t)i * width + j;
            *x = fm_dropout_keeps(seed, step, first_row + i, layer, j, rate) ? *x * scale : 0.0f;
        }
}

/* The activation's derivative where its output was `out` (activations.c's, element by element). */
static float derivative(float out, int activation)
{
    switch (activation) {
    case FM_RELU:
        return out > 0.0f ? 1.0f : 0.0f;
    case FM_LEAKY_RELU:
        return out > 0.0f ? 1.0f : FM_LEAKY_SLOPE;
    case FM_SIGMOID:
        return out * (1.0f - out);
    case FM_TANH:
        return 1.0f - out * out;
    default:
        return 1.0f;
    }
}

void fm_dropout_backward(float *delta, const float *a, int n, int width, int activation,
                         uint64_t seed, int64_t step, int64_t first_row, int layer, float rate)
{
    float keep = 1.0f - rate, scale = 1.0f / keep;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < width; j++) {
            size_t at = (size_t)i * width + j;
            if (!fm_dropout_keeps(seed, step, first_row + i, layer, j, rate)) {
                delta[at] = 0.0f;
                continue;
            }
            /* a holds the kept output scaled up: the activation's own output is a * keep */
            delta[at] *= scale * derivative(a[at] * keep, activation);
        }
}
