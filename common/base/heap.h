/* Handing the heap's free pages back to the kernel. glibc keeps the pages of blocks freed
 * below the top of its heap: a worker that took 10,000 jobs in a burst keeps, between the
 * jobs it still holds, every page the burst's transient blocks (decoded messages, reply
 * trees, request buffers) used, and its RSS stays at the burst's peak for as long as the jobs
 * run. Elsewhere than glibc these do nothing. */
#ifndef OF_HEAP_H
#define OF_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* When it is due (*next_ms, monotonic; 0 = now) and the heap holds at least min_free bytes
 * of free blocks, returns their whole pages to the kernel (malloc_trim) and says how many
 * free bytes the heap held; otherwise 0. Schedules the next look every_ms later. A look
 * costs a walk of glibc's bins; the trim a walk of the heap (a few ms for 50 MB). */
size_t of_heap_tidy(int64_t now_ms, int64_t *next_ms, int64_t every_ms, size_t min_free);

/* Returns the pages of the heap's free blocks to the kernel now (malloc_trim): after a big
 * transient structure (a reply tree, a state load) was freed. */
void of_heap_trim(void);

/* Free bytes the heap holds (glibc's fordblks), 0 where unknown. */
size_t of_heap_free_bytes(void);

#endif
