/* Whether an array holds only finite numbers: the input check of every fit, predict and
   evaluate reads all of X once. This loop, a test of each float's exponent bits that the
   compiler vectorises, is bound by memory only; NumPy's sum (non-finite whenever a term is) was
   a visible share of a predict. */
#include <string.h>

#include "fastmlp.h"

FM_VECTORIZED
int fm_all_finite(const float *x, size_t count)
{
    /* x (count,): NaN and +-Inf are the floats whose exponent bits are all ones */
    const size_t chunk = 4096; /* a test per chunk: an early answer for a bad value up front */
    for (size_t start = 0; start < count; start += chunk) {
        size_t end = count - start < chunk ? count : start + chunk;
        uint32_t bad = 0;
        for (size_t i = start; i < end; i++) {
            uint32_t bits;
            memcpy(&bits, x + i, sizeof bits);
            bad |= (bits & 0x7f800000u) == 0x7f800000u;
        }
        if (bad)
            return 0;
    }
    return 1;
}
