/* Heap tidying (heap.h). glibc only: mallinfo2 (2.33) and malloc_trim. */
#include "heap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

size_t of_heap_free_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return mi.fordblks;
#else
    return 0;
#endif
}

void of_heap_trim(void)
{
#if defined(__GLIBC__)
    (void)malloc_trim(0);
#endif
}

size_t of_heap_tidy(int64_t now_ms, int64_t *next_ms, int64_t every_ms, size_t min_free)
{
    if (now_ms < *next_ms) return 0;
    *next_ms = now_ms + every_ms;
    size_t free_bytes = of_heap_free_bytes();
    if (free_bytes < min_free) return 0;
    of_heap_trim();
    return free_bytes;
}
