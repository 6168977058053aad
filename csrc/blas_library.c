/* What fastmlp asks of the BLAS library itself, beyond its GEMMs: its thread-count control, so
   that while threads of ours split a step each runs its GEMMs on one core instead of each
   asking OpenBLAS for all; and which kernels it runs, since only some of OpenBLAS's kernel sets
   have kernels for small matrices (parts.c cuts its products for them where they do). */
#if defined(__linux__) || defined(__APPLE__)
#define _GNU_SOURCE
#include <dlfcn.h>
#endif
#include <string.h>
#include <strings.h>

#include "fastmlp.h"

/* The function `name` (or SciPy's build's `prefixed` one) of the library holding
   blas_function, or NULL. */
static void *library_function(const void *blas_function, const char *name, const char *prefixed)
{
#if defined(__linux__) || defined(__APPLE__)
    /* blas_function lives in a library linked against the BLAS (scipy's cython_blas); a lookup
       through its handle searches the libraries it depends on too */
    Dl_info info;
    if (blas_function == NULL || !dladdr(blas_function, &info) || info.dli_fname == NULL)
        return NULL;
    void *library = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (library == NULL)
        return NULL;
    void *found = dlsym(library, name);
    if (found == NULL)
        found = dlsym(library, prefixed);
    dlclose(library); /* only the count taken by RTLD_NOLOAD; the library stays loaded */
    return found;
#else
    (void)blas_function;
    (void)name;
    (void)prefixed;
    return NULL;
#endif
}

fm_set_threads_fn fm_find_blas_threads_setter(const void *blas_function)
{
    /* OpenBLAS 0.3.27 and later have the setter (process-wide, despite its name); SciPy's
       builds may one day prefix it as they prefix the rest. Anything else gets NULL, and the
       split runs in one thread. */
    fm_set_threads_fn fn;
    *(void **)&fn = library_function(blas_function, "openblas_set_num_threads_local",
                                     "scipy_openblas_set_num_threads_local");
    return fn; /* POSIX: a data pointer from dlsym holds a function */
}

const char *fm_blas_core_name(const void *blas_function)
{
    typedef char *(*corename_fn)(void);
    corename_fn corename;
    *(void **)&corename =
        library_function(blas_function, "openblas_get_corename", "scipy_openblas_get_corename");
    return corename != NULL ? corename() : NULL;
}

int fm_blas_has_small_kernels(const char *core_name)
{
    /* OpenBLAS's x86-64 kernel sets with small-matrix SGEMM kernels: SkylakeX's, which Cooperlake
       and Sapphire Rapids reuse. The others (Haswell's, which OPENBLAS_CORETYPE=Haswell also
       gives an AVX-512 CPU) pack both operands of every product, so a product cut in pieces
       packs its shared operand once per piece: whole products run faster there. */
    static const char *const with_small[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    if (core_name == NULL)
        return 0;
    for (size_t i = 0; i < sizeof with_small / sizeof with_small[0]; i++)
        if (strcasecmp(core_name, with_small[i]) == 0)
            return 1;
    return 0;
}
