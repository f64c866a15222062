// The Hamming filter of the posting scan (see tessera_posting_scan.h): a portable loop and,
// on x86-64 CPUs that have it, an AVX-512 one, chosen at run time.
#include "tessera_posting_scan.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define TESSERA_X86 1
#endif

enum { STRIDE = 20 };  // PostingLayout.stride(signatureWords: 2)

// Little-endian hosts only (x86-64, arm64), as the Swift side.
static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t image_at(const uint8_t *postings, size_t i) {
    uint32_t v;
    memcpy(&v, postings + STRIDE * i, 4);
    return __builtin_bswap32(v);
}

/// The address `TESSERA_HAMMING_PREFETCH` bytes ahead of `r` in the stream of blocks: in the
/// block that ends at `end`, then in `next` (when known).
static inline const uint8_t *ahead(const uint8_t *r, const uint8_t *end, const uint8_t *next) {
    const uint8_t *t = r + TESSERA_HAMMING_PREFETCH;
    return t >= end && next ? next + (t - end) : t;
}

static inline int distance(const uint8_t *posting, uint64_t q0, uint64_t q1) {
    return __builtin_popcountll(load64(posting + 4) ^ q0) + __builtin_popcountll(load64(posting + 12) ^ q1);
}

/// Writes hit number `k`: posting `i` of the block (`n` postings at `postings`) at distance
/// `d`, with its image and the length of that image's run around it (its lines are in the
/// cache: the filter just read them).
static __attribute__((noinline)) void record(const uint8_t *postings, size_t n, size_t i, int d, tessera_filter_hits hits, size_t k) {
    uint32_t image = image_at(postings, i);
    size_t s = i, e = i + 1;
    while (s > 0 && image_at(postings, s - 1) == image) s--;
    while (e < n && image_at(postings, e) == image) e++;
    hits.images[k] = image;
    hits.runs[k] = (uint32_t)(e - s);
    hits.distances[k] = (uint8_t)d;
}

/// Four postings per branch: under HE few pairs vote (random 128-bit signatures fall under
/// d_t = 52 with probability 1.34%), so one test of the four distances' minimum skips most.
/// Inlined into a POPCNT build and a baseline one (x86-64 CPUs before 2008 lack POPCNT).
static inline __attribute__((always_inline)) size_t
filter_scalar(const tessera_posting_block *b, size_t from, size_t count, uint64_t q0, uint64_t q1, int limit,
              tessera_filter_hits hits) {
    // Locals: the hits' byte stores could alias the block's fields.
    const uint8_t *postings = b->postings, *next = b->next, *end = postings + STRIDE * b->count;
    const size_t n = b->count;
    size_t found = 0, p = from, stop = from + count;
    for (; p + 4 <= stop; p += 4) {
        const uint8_t *r = postings + STRIDE * p;
        __builtin_prefetch(ahead(r, end, next), 0, 3);
        int d[4] = {distance(r, q0, q1), distance(r + STRIDE, q0, q1), distance(r + 2 * STRIDE, q0, q1),
                    distance(r + 3 * STRIDE, q0, q1)};
        int m01 = d[0] < d[1] ? d[0] : d[1], m23 = d[2] < d[3] ? d[2] : d[3];
        if ((m01 < m23 ? m01 : m23) < limit) {
            for (int k = 0; k < 4; k++) {
                if (d[k] < limit) record(postings, n, p + k, d[k], hits, found++);
            }
        }
    }
    for (; p < stop; p++) {
        int d = distance(postings + STRIDE * p, q0, q1);
        if (d < limit) record(postings, n, p, d, hits, found++);
    }
    return found;
}

#if TESSERA_X86
__attribute__((target("popcnt")))
static size_t filter_popcnt(const tessera_posting_block *b, size_t from, size_t count, uint64_t q0, uint64_t q1,
                            int limit, tessera_filter_hits hits) {
    return filter_scalar(b, from, count, q0, q1, limit, hits);
}

/// Eight postings per iteration: their signatures gathered into two 512-bit registers with
/// 128-bit loads (the 20-byte stride leaves them unaligned to 8 bytes), XOR with the query
/// repeated four times, VPOPCNTQ, the two words of each signature summed, one compare.
__attribute__((target("avx512f,avx512dq,avx512vpopcntdq,popcnt")))
static size_t filter_avx512(const tessera_posting_block *b, size_t from, size_t count, uint64_t q0, uint64_t q1,
                            int limit, tessera_filter_hits hits) {
    const __m512i q = _mm512_set_epi64((long long)q1, (long long)q0, (long long)q1, (long long)q0,
                                       (long long)q1, (long long)q0, (long long)q1, (long long)q0);
    const __m512i lim = _mm512_set1_epi64(limit);
    const uint8_t *postings = b->postings, *next = b->next, *end = postings + STRIDE * b->count;
    const size_t n = b->count;
    size_t found = 0, p = from, stop = from + count;
    for (; p + 8 <= stop; p += 8) {
        const uint8_t *r = postings + STRIDE * p;
        const uint8_t *t = ahead(r, end, next);
        __builtin_prefetch(t, 0, 3);
        __builtin_prefetch(t + 64, 0, 3);
        __builtin_prefetch(t + 128, 0, 3);
        const uint8_t *s = r + 4;  // the first signature; the last 16-byte load ends at r + 160
        __m512i lo = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)s));
        lo = _mm512_inserti64x2(lo, _mm_loadu_si128((const __m128i *)(s + STRIDE)), 1);
        lo = _mm512_inserti64x2(lo, _mm_loadu_si128((const __m128i *)(s + 2 * STRIDE)), 2);
        lo = _mm512_inserti64x2(lo, _mm_loadu_si128((const __m128i *)(s + 3 * STRIDE)), 3);
        __m512i hi = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(s + 4 * STRIDE)));
        hi = _mm512_inserti64x2(hi, _mm_loadu_si128((const __m128i *)(s + 5 * STRIDE)), 1);
        hi = _mm512_inserti64x2(hi, _mm_loadu_si128((const __m128i *)(s + 6 * STRIDE)), 2);
        hi = _mm512_inserti64x2(hi, _mm_loadu_si128((const __m128i *)(s + 7 * STRIDE)), 3);
        __m512i clo = _mm512_popcnt_epi64(_mm512_xor_si512(lo, q));
        __m512i chi = _mm512_popcnt_epi64(_mm512_xor_si512(hi, q));
        // Even lanes get the sum of their signature's two words (the odd lanes are ignored).
        __m512i dlo = _mm512_add_epi64(clo, _mm512_shuffle_epi32(clo, _MM_PERM_BADC));
        __m512i dhi = _mm512_add_epi64(chi, _mm512_shuffle_epi32(chi, _MM_PERM_BADC));
        unsigned mlo = _mm512_cmplt_epu64_mask(dlo, lim) & 0x55;
        unsigned mhi = _mm512_cmplt_epu64_mask(dhi, lim) & 0x55;
        if (mlo | mhi) {
            uint64_t d[16];
            _mm512_storeu_si512(d, dlo);
            _mm512_storeu_si512(d + 8, dhi);
            unsigned m = mlo | (mhi << 8);
            while (m) {
                unsigned lane = (unsigned)__builtin_ctz(m);
                record(postings, n, p + lane / 2, (int)d[lane], hits, found++);
                m &= m - 1;
            }
        }
    }
    tessera_filter_hits rest = {hits.images + found, hits.runs + found, hits.distances + found};
    return found + filter_scalar(b, p, stop - p, q0, q1, limit, rest);
}
#endif

int tessera_hamming_kernel_supported(tessera_hamming_kernel kernel) {
    switch (kernel) {
    case TESSERA_HAMMING_SCALAR:
        return 1;
    case TESSERA_HAMMING_AVX512:
#if TESSERA_X86
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("popcnt");
#else
        return 0;
#endif
    }
    return 0;
}

tessera_hamming_kernel tessera_hamming_best_kernel(void) {
    return tessera_hamming_kernel_supported(TESSERA_HAMMING_AVX512) ? TESSERA_HAMMING_AVX512 : TESSERA_HAMMING_SCALAR;
}

size_t tessera_hamming128_filter(tessera_hamming_kernel kernel, const tessera_posting_block *block, size_t from,
                                 size_t count, uint64_t q0, uint64_t q1, int limit, tessera_filter_hits hits) {
#if TESSERA_X86
    if (kernel == TESSERA_HAMMING_AVX512) return filter_avx512(block, from, count, q0, q1, limit, hits);
    if (__builtin_cpu_supports("popcnt")) return filter_popcnt(block, from, count, q0, q1, limit, hits);
#endif
    return filter_scalar(block, from, count, q0, q1, limit, hits);
}
