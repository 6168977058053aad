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

/* Units of a row taken at a time in the backward pass: their outputs before dropout's scaling
   fit on the stack, for fm_act_backward. */
#define BACKWARD_CHUNK 256

void fm_dropout_backward(float *delta, const float *a, int n, int width, int activation,
                         uint64_t seed, int64_t step, int64_t first_row, int layer, float rate)
{
    float keep = 1.0f - rate, scale = 1.0f / keep;
    float outputs[BACKWARD_CHUNK];
    for (int i = 0; i < n; i++)
        for (int j0 = 0; j0 < width; j0 += BACKWARD_CHUNK) {
            int count = width - j0 < BACKWARD_CHUNK ? width - j0 : BACKWARD_CHUNK;
            float *d = delta + (size_t)i * width + j0;
            const float *kept = a + (size_t)i * width + j0;
            for (int j = 0; j < count; j++) {
                int keeps = fm_dropout_keeps(seed, step, first_row + i, layer, j0 + j, rate);
                d[j] = keeps ? d[j] * scale : 0.0f;
                outputs[j] = kept[j] * keep; /* a holds the kept outputs scaled up */
            }
            fm_act_backward(d, outputs, 1, count, activation); /* at the activation's own outputs */
        }
}
