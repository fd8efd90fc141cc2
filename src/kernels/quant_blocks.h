// GGUF's block-quantized storage formats, byte for byte as ggml lays them out (ggml-common.h), so
// rows memory-mapped from a GGUF file are used in place. All scales are IEEE half (F16) bits except
// BlockQ8_K's, which is a float. Every struct is packed by construction (no padding): the
// static_asserts pin the sizes GGUF files are written with.
#pragma once

#include <cstdint>

namespace medassist::kernels {

inline constexpr int kQK8_0 = 32;  // elements per Q8_0 / Q4_0 block
inline constexpr int kQK4_0 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK_K = 256;  // elements per K-quant super-block

// Q8_0: value[j] = qs[j] * d.
struct BlockQ8_0 {
  uint16_t d;  // F16 scale
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_0: element j < 16 is the low nibble of qs[j], element j + 16 its high nibble;
// value = (nibble - 8) * d.
struct BlockQ4_0 {
  uint16_t d;  // F16 scale
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q5_0: element j < 16 is the low nibble of qs[j] with bit j of qh as its 5th bit, element j + 16
// the high nibble of qs[j] with bit j + 16; value = (q - 16) * d, q in [0, 31]. qh is a
// little-endian uint32 kept as bytes, as ggml does (a uint32_t member would pad the block to 24).
struct BlockQ5_0 {
  uint16_t d;  // F16 scale
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q4_K: 8 sub-blocks of 32, value = d * sc[s] * nibble - dmin * m[s] with 6-bit sc, m packed in
// scales[12] (GetScaleMinK4 unpacks them). The 4-bit quants come in 4 chunks of 32 bytes; chunk c
// holds sub-block 2c in its low nibbles and sub-block 2c + 1 in its high nibbles.
struct BlockQ4_K {
  uint16_t d;     // F16 super-scale of the 6-bit scales
  uint16_t dmin;  // F16 super-scale of the 6-bit mins
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q6_K: 16 sub-blocks of 16, value = d * scales[s] * (q - 32) with q 6 bits: the low 4 bits in ql,
// the high 2 in qh. Each 128-element half h uses ql[64h..], qh[32h..], scales[8h..]; within it,
// for l < 32: element l takes ql[l] low and qh[l] bits 0-1, element l + 32 ql[l + 32] low and
// qh[l] bits 2-3, element l + 64 ql[l] high and qh[l] bits 4-5, element l + 96 ql[l + 32] high
// and qh[l] bits 6-7. Sub-block s of the half covers elements 16s .. 16s + 15.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;  // F16 super-scale
};
static_assert(sizeof(BlockQ6_K) == 210);

// Q8_K: the activation side of K-quant dot products (never stored in files): value = qs[j] * d,
// qs in [-127, 127], bsums[g] = sum of qs[16g .. 16g + 15].
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

// The 6-bit scale and min of Q4_K sub-block j (0..7) from the packed 12 bytes: j < 4 sit in the
// low 6 bits of bytes j and j + 4; j >= 4 take their low 4 bits from byte j + 4 and their high 2
// bits from the top bits of bytes j - 4 (scale) and j (min).
inline void GetScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace medassist::kernels
