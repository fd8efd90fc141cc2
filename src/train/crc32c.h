// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by TFRecord framing in
// TensorBoard event files. A table-driven scalar reference sits beside an SSE4.2 version
// (the crc32 instruction computes exactly this polynomial); Crc32c() picks the fast one at run
// time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace medassist::train {

// crc of data appended to bytes whose crc was `crc` (0 for none): Crc32cExtend(Crc32c(a), b)
// == Crc32c(a + b). Pre- and post-inverted as the standard CRC-32C ("123456789" -> 0xE3069283).
uint32_t Crc32cExtendScalar(uint32_t crc, const uint8_t* data, size_t n);
// Same result with the SSE4.2 crc32 instruction; only call when Crc32cHasSse42().
uint32_t Crc32cExtendSse42(uint32_t crc, const uint8_t* data, size_t n);
bool Crc32cHasSse42();

// The fastest available of the two.
uint32_t Crc32cExtend(uint32_t crc, const uint8_t* data, size_t n);
inline uint32_t Crc32c(std::string_view data) {
  return Crc32cExtend(0, reinterpret_cast<const uint8_t*>(data.data()), data.size());
}

// TFRecord's masked crc (a crc of bytes that contain crcs is weak, so records store this):
// rotate right by 15 bits and add a constant.
inline uint32_t MaskCrc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t UnmaskCrc32c(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace medassist::train
