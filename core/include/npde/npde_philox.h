/**
 * Philox4x32-10 (Salmon et al., SC11), header-only so that every backend,
 * host or device, compiles the very same generator.
 *
 * npde keys the generator by (seed, stream, counter):
 *   key     = { lo32(seed), hi32(seed) }
 *   counter = { lo32(counter), hi32(counter), lo32(stream), hi32(stream) }
 * Element e of a drawn array uses block (counter + e / 2) and, within it,
 * words {0,1} for even e and {2,3} for odd e:
 *   uniform(e) = ((w_a << 32 | w_b) >> 11) * 2^-53           in [0, 1)
 * Normal element 2b and 2b+1 come from Box-Muller on the block's two
 * uniforms u1, u2: r = sqrt(-2 log1p(-u1)), r cos(2 pi u2), r sin(2 pi u2).
 * A draw of N elements consumes (N + 1) / 2 counter values.
 */
#ifndef NPDE_PHILOX_H
#define NPDE_PHILOX_H

#include <math.h>
#include <stdint.h>

#include "npde_export.h"

#define NPDE_PHILOX_M0 0xD2511F53u
#define NPDE_PHILOX_M1 0xCD9E8D57u
#define NPDE_PHILOX_W0 0x9E3779B9u
#define NPDE_PHILOX_W1 0xBB67AE85u

static inline NPDE_HOSTDEVICE void npde_philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2],
                                                      uint32_t out[4]) {
  uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
  uint32_t k0 = key_in[0], k1 = key_in[1];
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = (uint64_t)NPDE_PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)NPDE_PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += NPDE_PHILOX_W0;
    k1 += NPDE_PHILOX_W1;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/** The four words of block number `block` of stream `stream` under `seed`. */
static inline NPDE_HOSTDEVICE void npde_philox_block(uint64_t seed, uint64_t stream, uint64_t block,
                                                     uint32_t out[4]) {
  uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  npde_philox4x32_10(ctr, key, out);
}

/** Two 32-bit words to a double uniform in [0, 1) with 53 random bits. */
static inline NPDE_HOSTDEVICE double npde_philox_u01(uint32_t hi, uint32_t lo) {
  return (double)((((uint64_t)hi << 32) | lo) >> 11) * 0x1.0p-53;
}

/** Uniform [0, 1) element e of the draw starting at `counter`. */
static inline NPDE_HOSTDEVICE double npde_philox_uniform_at(uint64_t seed, uint64_t stream, uint64_t counter,
                                                            uint64_t e) {
  uint32_t w[4];
  npde_philox_block(seed, stream, counter + e / 2, w);
  return (e & 1u) ? npde_philox_u01(w[2], w[3]) : npde_philox_u01(w[0], w[1]);
}

/**
 * Standard normal truncated to [-2, 2] for element e (the initialisation of
 * docs/methods/neural-ivp.md §2.3), by rejection: attempt a uses the Box-Muller pair of block
 * e * 64 + a (first value), so every element has its own counter range and
 * the result does not depend on how elements are grouped.
 */
static inline NPDE_HOSTDEVICE double npde_philox_trunc_normal_at(uint64_t seed, uint64_t stream, uint64_t e) {
  for (uint64_t a = 0; a < 64; ++a) {
    uint32_t w[4];
    npde_philox_block(seed, stream, e * 64 + a, w);
    double u1 = npde_philox_u01(w[0], w[1]), u2 = npde_philox_u01(w[2], w[3]);
    double z = sqrt(-2.0 * log1p(-u1)) * cos(6.283185307179586 * u2);
    if (z >= -2.0 && z <= 2.0) return z;
  }
  return 0.0; /* probability (0.0455)^64: never in practice */
}

/** Counter values consumed by a draw of n elements. */
static inline NPDE_HOSTDEVICE uint64_t npde_philox_blocks(uint64_t n) { return (n + 1) / 2; }

#endif
