/* Finding the BLAS's own thread-count control, so that while two threads of ours split a step,
   each runs its GEMMs on one core instead of both asking OpenBLAS for two. */
#if defined(__linux__) || defined(__APPLE__)
#define _GNU_SOURCE
#include <dlfcn.h>
#endif

#include "fastmlp.h"

fm_set_threads_fn fm_find_blas_threads_setter(const void *blas_function)
{
#if defined(__linux__) || defined(__APPLE__)
    /* blas_function lives in a library linked against the BLAS (scipy's cython_blas); a lookup
       through its handle searches the libraries it depends on too. OpenBLAS 0.3.27 and later
       have the setter (process-wide, despite its name); SciPy's builds may one day prefix it
       as they prefix the rest. Anything else gets NULL, and the split runs in one thread. */
    Dl_info info;
    if (blas_function == NULL || !dladdr(blas_function, &info) || info.dli_fname == NULL)
        return NULL;
    void *library = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (library == NULL)
        return NULL;
    void *setter = dlsym(library, "openblas_set_num_threads_local");
    if (setter == NULL)
        setter = dlsym(library, "scipy_openblas_set_num_threads_local");
    dlclose(library);  /* only the count taken by RTLD_NOLOAD; the library stays loaded */
    fm_set_threads_fn fn;
    *(void **)&fn = setter;  /* POSIX: a data pointer from dlsym holds a function */
    return fn;
#else
    (void)blas_function;
    return NULL;
#endif
}
