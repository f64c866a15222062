#ifndef TESSERA_POSTING_SCAN_H
#define TESSERA_POSTING_SCAN_H

#include <stddef.h>
#include <stdint.h>

/// Asks the cache for the line holding `p` ahead of its use (a hint: it never faults, so `p`
/// may lie past the end of the buffer being scanned). Swift has no prefetch of its own; this
/// inline function compiles to one PREFETCHT0 (`VoteQueue` in `LayerScorer`).
static inline void tessera_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// The machine code that runs the Hamming filter of the posting scan.
typedef enum {
    /// Portable C, four postings per branch.
    TESSERA_HAMMING_SCALAR = 0,
    /// x86-64 AVX-512 (F, DQ, VPOPCNTDQ): eight postings per iteration, one VPOPCNTQ per
    /// four signature words.
    TESSERA_HAMMING_AVX512 = 1,
} tessera_hamming_kernel;

/// The fastest kernel this CPU runs (checked with CPUID once per call; cache it).
tessera_hamming_kernel tessera_hamming_best_kernel(void);

/// Whether this CPU runs `kernel`.
int tessera_hamming_kernel_supported(tessera_hamming_kernel kernel);

/// One block of a word's postings in the `PostingLayout` for 128-bit signatures (20 bytes
/// each: the image id as a big-endian u32, then the signature as two little-endian u64 words),
/// sorted by image id.
typedef struct {
    const uint8_t *postings;
    size_t count;
    /// The block the caller scans after this one, or NULL: the filter's prefetch runs on into it.
    const uint8_t *next;
} tessera_posting_block;

/// Where the filter writes its hits: entry k of each array describes the k-th hit.
typedef struct {
    /// The hit's image id I.
    uint32_t *images;
    /// tf_I: the number of postings of I in the block (its run; lists are sorted by image id,
    /// and an image's run never spans two blocks).
    uint32_t *runs;
    /// The hit's Hamming distance to the query signature.
    uint8_t *distances;
} tessera_filter_hits;

/// The Hamming filter of MOF eq. 5–6 for 128-bit signatures: scans postings `from` to
/// `from + count − 1` of `block` and, for every posting whose distance
/// d = popcount(s0 ^ q0) + popcount(s1 ^ q1) is below `limit`, in order, writes its image,
/// its image's run and d to `hits`. Returns the number of hits (at most `count`: each array
/// of `hits` must hold `count` entries). Reads nothing outside the block. Asks the cache for
/// the bytes `TESSERA_HAMMING_PREFETCH` ahead of the scan, past the block's end in
/// `block->next`. `kernel` must be supported (`tessera_hamming_kernel_supported`).
size_t tessera_hamming128_filter(tessera_hamming_kernel kernel, const tessera_posting_block *block, size_t from,
                                 size_t count, uint64_t q0, uint64_t q1, int limit, tessera_filter_hits hits);

/// Bytes ahead of the scan that the filter asks the cache for: one 4 KiB page, so the next
/// page's address translation and first lines are under way before the loop needs them.
/// Chosen with `TesseraBench index` over 0, 1, 2, 4 and 8 KiB (Bench/RESULTS.md, Index).
#define TESSERA_HAMMING_PREFETCH 4096

#endif
