// util/philox.h: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011), a counter-based generator: a (counter, key) pair maps to four random 32-bit
// words with no state in between, so a host loop and a CUDA kernel draw the same numbers for the
// same element without a stream to share. tests/test_layers.py checks it against the Random123
// known-answer vectors.
#pragma once

#include <cstdint>

#include "common.h"

namespace pycolorize {

struct Philox4 {
  uint32_t w[4];
};

PYC_HOST_DEVICE Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // the Weyl key schedule, bumped before every round but the first
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n1 = uint32_t(p1);
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1, n3 = uint32_t(p0);
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
  }
  return {{c0, c1, c2, c3}};
}

// The four words for block b (elements 4b .. 4b+3) of the stream named by a 64-bit seed.
PYC_HOST_DEVICE Philox4 philox_block(uint64_t seed, uint64_t b) {
  return philox4x32_10(uint32_t(b), uint32_t(b >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
}

}  // namespace pycolorize
