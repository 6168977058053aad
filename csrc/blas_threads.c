/* Finding the BLAS's own thread-count control, so that a thread of ours can run its GEMMs on one
   core while the other core is busy with the other half of the work. */
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
       have a per-thread setting; anything else gets NULL and the split runs in one thread. */
    Dl_info info;
    if (blas_function == NULL || !dladdr(blas_function, &info) || info.dli_fname == NULL)
        return NULL;
    void *library = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (library == NULL)
        return NULL;
    void *setter = dlsym(library, "openblas_set_num_threads_local");
    dlclose(library);  /* only the count taken by RTLD_NOLOAD; the library stays loaded */
    fm_set_threads_fn fn;
    *(void **)&fn = setter;  /* POSIX: a data pointer from dlsym holds a function */
    return fn;
#else
    (void)blas_function;
    return NULL;
#endif
}
