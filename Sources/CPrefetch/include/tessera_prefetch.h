#ifndef TESSERA_PREFETCH_H
#define TESSERA_PREFETCH_H

/// Asks the cache for the line holding `p` ahead of its use (a hint: it never faults, so `p`
/// may lie past the end of the buffer being scanned). Swift has no prefetch of its own; this
/// inline function compiles to one PREFETCHT0 in the posting scan (`LayerScorer`).
static inline void tessera_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
