#!/usr/bin/env python3
"""Q5_0 golden data from a GGUF file that llama.cpp itself quantized.

Usage: make_q5_0_golden.py MODEL.gguf [TENSOR] [OUT_DIR]

Copies the first 16 blocks (512 elements) of a Q5_0 tensor (default blk.0.attn_q.weight) to
q5_0.quant and writes their dequantized values to q5_0.f32 (little-endian float32), computed here
from the block layout alone (ggml block_q5_0, 22 bytes):
  d      F16 scale
  qh[4]  32 high bits, little-endian uint32: bit j is the 5th bit of element j
  qs[16] element j < 16 is the low nibble of qs[j], element j + 16 its high nibble
  value = ((nibble | high_bit << 4) - 16) * d
The product of an integer in [-16, 15] and an F16 value is exact in float32, so computing it in
Python's double and rounding to float32 gives the float32 result bit for bit.
Plain Python 3 (struct only), no numpy.
"""
import struct
import sys

GGML_TYPE_Q5_0 = 6
BLOCK_BYTES, BLOCK_ELEMS, N_BLOCKS = 22, 32, 16

# GGUF metadata value types -> struct format of a scalar (8 string, 9 array handled apart).
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
           11: "<q", 12: "<d"}


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def value(self, vtype):
        if vtype == 8:
            return self.string()
        if vtype == 9:
            etype, n = self.take("<I"), self.take("<Q")
            return [self.value(etype) for _ in range(n)]
        return self.take(SCALARS[vtype])


def find_tensor(path, want):
    """(bytes of the first N_BLOCKS blocks, ggml type) of tensor `want`."""
    with open(path, "rb") as f:
        head = f.read(64 << 20)  # metadata and tensor infos (the vocabulary is a few MB)
    r = Reader(head)
    assert head[:4] == b"GGUF", "not a GGUF file"
    r.pos = 4
    version, n_tensors, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
    assert version in (2, 3), version
    alignment = 32
    for _ in range(n_kv):
        key, vtype = r.string(), None
        vtype = r.take("<I")
        v = r.value(vtype)
        if key == "general.alignment":
            alignment = v
    infos = {}
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        infos[name] = (dims, r.take("<I"), r.take("<Q"))
    data_start = (r.pos + alignment - 1) // alignment * alignment
    dims, ggml_type, offset = infos[want]
    with open(path, "rb") as f:
        f.seek(data_start + offset)
        return f.read(N_BLOCKS * BLOCK_BYTES), ggml_type, dims


def dequantize_q5_0(raw):
    out = []
    for b in range(len(raw) // BLOCK_BYTES):
        block = raw[b * BLOCK_BYTES:(b + 1) * BLOCK_BYTES]
        (d,) = struct.unpack_from("<e", block, 0)
        (qh,) = struct.unpack_from("<I", block, 2)
        qs = block[6:22]
        values = [0.0] * BLOCK_ELEMS
        for j in range(16):
            lo = (qs[j] & 0x0F) | (((qh >> j) & 1) << 4)
            hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)
            values[j] = (lo - 16) * d
            values[j + 16] = (hi - 16) * d
        out.extend(values)
    return out


def main():
    path = sys.argv[1]
    tensor = sys.argv[2] if len(sys.argv) > 2 else "blk.0.attn_q.weight"
    out_dir = sys.argv[3] if len(sys.argv) > 3 else "."
    raw, ggml_type, dims = find_tensor(path, tensor)
    assert ggml_type == GGML_TYPE_Q5_0, f"{tensor} has ggml type {ggml_type}, not Q5_0 (6)"
    assert dims[0] >= N_BLOCKS * BLOCK_ELEMS, dims
    values = dequantize_q5_0(raw)
    with open(f"{out_dir}/q5_0.quant", "wb") as f:
        f.write(raw)
    with open(f"{out_dir}/q5_0.f32", "wb") as f:
        f.write(struct.pack(f"<{len(values)}f", *values))
    print(f"{tensor} {dims}: {len(raw)} bytes, {len(values)} values")


if __name__ == "__main__":
    main()
