/* What the CPU can run, looked up once as the library loads (cpu.h). */
#include "cpu.h"

#ifdef FM_X86_INTRINSICS
static int has_avx2, has_fma, has_avx512;

__attribute__((constructor)) static void look_up_cpu(void)
{
    __builtin_cpu_init(); /* a constructor may run before libgcc's own */
    has_avx2 = __builtin_cpu_supports("avx2");
    has_fma = __builtin_cpu_supports("fma");
    has_avx512 = __builtin_cpu_supports("avx512f");
}

int fm_cpu_has_avx2(void)
{
    return has_avx2;
}

int fm_cpu_has_fma(void)
{
    return has_fma;
}

int fm_cpu_has_avx512(void)
{
    return has_avx512;
}
#else
typedef int fm_no_cpu_features; /* ISO C wants something in a translation unit */
#endif
