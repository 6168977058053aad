/* Output layers and losses, each fused with its gradient so no Jacobian is ever formed. */
#include <math.h>

#include "fastmlp.h"

static int argmax(const float *row, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

/* Softmax in place; returns log(sum(exp(z - max))) + max, the row's log-sum-exp. */
static double softmax_row(float *z, int k)
{
    /* Subtracting the max keeps every exp in (0, 1]: logits of 1e4 cannot overflow. */
    float m = z[argmax(z, k)];
    float sum = 0.0f;
    for (int j = 0; j < k; j++) {
        z[j] = expf(z[j] - m);
        sum += z[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < k; j++)
        z[j] *= inv;
    return (double)m + log((double)sum);
}

static float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* log(1 + exp(x)) without overflow for large x or loss of precision for very negative x. */
static float softplus(float x)
{
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

void fm_head_output(float *z, int n, int k, int head)
{
    for (int i = 0; i < n; i++) {
        float *row = z + (size_t)i * k;
        if (head == FM_SOFTMAX_CE || head == FM_SOFTMAX_MSE)
            softmax_row(row, k);
        else if (head != FM_IDENTITY_MSE && head != FM_IDENTITY_HUBER)
            for (int j = 0; j < k; j++)
                row[j] = sigmoid(row[j]);
    }
}

/* One row: z (k,) logits -> outputs; dz (k,) gradient of this row's loss times scale. */
static double head_row(float *z, float *dz, int label, int k, int head, float scale)
{
    double loss = 0.0;
    switch (head) {
    case FM_SOFTMAX_CE: {
        float z_label = z[label];
        loss = softmax_row(z, k) - (double)z_label;
        if (dz)
            for (int j = 0; j < k; j++)
                dz[j] = scale * (z[j] - (j == label ? 1.0f : 0.0f));
        break;
    }
    case FM_SIGMOID_CE:
        /* per unit: -(t log s + (1 - t) log(1 - s)) = softplus(z) - t z, from the logit */
        for (int j = 0; j < k; j++) {
            float t = j == label ? 1.0f : 0.0f;
            loss += (double)(softplus(z[j]) - t * z[j]);
            z[j] = sigmoid(z[j]);
            if (dz)
                dz[j] = scale * (z[j] - t);
        }
        break;
    case FM_SIGMOID_MSE:
        for (int j = 0; j < k; j++) {
            float s = sigmoid(z[j]);
            float e = s - (j == label ? 1.0f : 0.0f);
            loss += 0.5 * (double)e * e;
            z[j] = s;
            if (dz)
                dz[j] = scale * e * s * (1.0f - s);
        }
        break;
    case FM_SOFTMAX_MSE: {
        softmax_row(z, k);
        /* dL/dp = p - t; back through the softmax: p * (g - <g, p>) */
        float dot = 0.0f;
        for (int j = 0; j < k; j++) {
            float e = z[j] - (j == label ? 1.0f : 0.0f);
            loss += 0.5 * (double)e * e;
            dot += e * z[j];
        }
        if (dz)
            for (int j = 0; j < k; j++) {
                float e = z[j] - (j == label ? 1.0f : 0.0f);
                dz[j] = scale * z[j] * (e - dot);
            }
        break;
    }
    }
    return loss;
}

int fm_target_words(int head, int k)
{
    return head == FM_IDENTITY_MSE || head == FM_IDENTITY_HUBER ? k : 1;
}

/* Regression: per output, half the squared error against its float target; with huber, beyond
   FM_HUBER_DELTA the loss grows linearly and its gradient stays at +-FM_HUBER_DELTA. */
static double identity_loss(const float *z, float *dz, const int32_t *y, int n, int k, float scale,
                            int huber)
{
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *t = (const float *)(y + (size_t)i * k); /* the targets' bits, as given */
        for (int j = 0; j < k; j++) {
            float e = z[(size_t)i * k + j] - t[j], g = e;
            if (huber && fabsf(e) > FM_HUBER_DELTA) {
                g = e > 0.0f ? FM_HUBER_DELTA : -FM_HUBER_DELTA;
                total += (double)FM_HUBER_DELTA * (fabs((double)e) - 0.5 * FM_HUBER_DELTA);
            } else {
                total += 0.5 * (double)e * e;
            }
            if (dz)
                dz[(size_t)i * k + j] = scale * g;
        }
    }
    return total;
}

double fm_head_loss(float *z, float *dz, const int32_t *y, int n, int k, int head, float scale,
                    int64_t *correct)
{
    /* z, dz: (n, k); y: (n, fm_target_words(head, k)) */
    if (head == FM_IDENTITY_MSE || head == FM_IDENTITY_HUBER)
        return identity_loss(z, dz, y, n, k, scale, head == FM_IDENTITY_HUBER);
    double total = 0.0;
    int64_t hits = 0;
    for (int i = 0; i < n; i++) {
        float *row = z + (size_t)i * k;
        /* Both output functions are monotone: the logits' argmax is the prediction. */
        hits += argmax(row, k) == y[i];
        total += head_row(row, dz ? dz + (size_t)i * k : NULL, y[i], k, head, scale);
    }
    if (correct)
        *correct += hits;
    return total;
}
