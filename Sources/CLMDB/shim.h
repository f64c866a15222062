#include <lmdb.h>

/* Asks the CPU to start loading `bytes` bytes at `p` (one prefetch per 64-byte line). The
   posting scan calls it on the next LMDB page before scanning the current one, so the
   page's DRAM and TLB latency overlaps with work instead of stalling the scan. */
static inline void tessera_prefetch(const void *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o, 0, 0);
}
