#!/usr/bin/env python3
"""Reference vectors for the block dequantizers (tests/unit/test_quant_dequant.cpp).

Random blocks of every GGUF block type this library reads, dequantized by an
independent implementation: the `gguf` Python package (gguf.quants), or plain
numpy arithmetic where the package has no dequantizer (F32, F16, Q8_K).

Blocks are random bytes, so every bit pattern of the packed quants, scales and
high bits occurs; only the IEEE-half scale fields are replaced by finite values
(random normal ones plus a few subnormals), because a NaN scale makes every
element NaN and tests nothing.

Output, one file per type, tests/data/quant/<TYPE>.bin, little-endian:
    char[4]  "WQRF"
    uint32   ggml type id
    uint64   number of elements
    uint64   number of data bytes
    uint8    data[number of data bytes]      (the blocks as stored in GGUF)
    float32  expected[number of elements]

Usage: python3 scripts/oracle/gen_quant_reference.py [--out tests/data/quant]
Requires: pip install gguf==0.19.0 numpy
"""

import argparse
import pathlib
import struct

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGML_QUANT_SIZES
from gguf import quants

N_BLOCKS = 64  # 32-element types; the 256-element K types use a quarter as many
SEED = 20261123

# Byte offsets of the IEEE-half scale fields inside each block.
HALF_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q2_K: [80, 82],
    T.Q3_K: [108],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}


def finite_halves(rng: np.random.Generator, n: int) -> np.ndarray:
    values = (rng.uniform(-2.0, 2.0, n) * np.exp2(rng.integers(-12, 4, n))).astype(np.float16)
    # A few subnormal halves exercise the slow path of fp16_to_f32.
    subnormal = rng.integers(1, 0x400, n).astype(np.uint16) | (rng.integers(0, 2, n).astype(np.uint16) << 15)
    pick = rng.random(n) < 0.1
    bits = values.view(np.uint16).copy()
    bits[pick] = subnormal[pick]
    return bits


def random_blocks(rng: np.random.Generator, qtype: T) -> np.ndarray:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks = N_BLOCKS if block_size == 32 else N_BLOCKS // 4
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for offset in HALF_FIELDS.get(qtype, []):
        raw[:, offset:offset + 2] = finite_halves(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    if qtype == T.Q8_K:
        d = (rng.uniform(-1.0, 1.0, n_blocks) * 1e-2).astype(np.float32)
        raw[:, 0:4] = d.view(np.uint8).reshape(n_blocks, 4)
    return raw


def expected_values(qtype: T, raw: np.ndarray) -> np.ndarray:
    if qtype == T.F32:
        return raw.reshape(-1).view(np.float32)
    if qtype == T.F16:
        return raw.reshape(-1).view(np.float16).astype(np.float32)
    if qtype == T.Q8_K:
        # float d, int8 qs[256], int16 bsums[16]: value = d * q (one float32 product).
        d = raw[:, 0:4].copy().view(np.float32).reshape(-1, 1)
        qs = raw[:, 4:260].copy().view(np.int8).astype(np.float32)
        return (d * qs).astype(np.float32).reshape(-1)
    # MXFP4 exponents near 255 overflow to +-inf on purpose.
    with np.errstate(over="ignore"):
        return quants.dequantize(raw.reshape(-1), qtype).astype(np.float32).reshape(-1)


def scalar_data(rng: np.random.Generator, qtype: T) -> np.ndarray:
    n = N_BLOCKS * 32
    if qtype == T.F32:
        values = (rng.standard_normal(n) * np.exp2(rng.integers(-20, 20, n))).astype(np.float32)
        return values.view(np.uint8).reshape(N_BLOCKS, -1)
    bits = rng.integers(0, 1 << 16, n, dtype=np.uint32).astype(np.uint16)
    if qtype == T.F16:
        bits[(bits & 0x7C00) == 0x7C00] &= 0xBFFF  # no NaN/Inf: exponent 31 -> 15
    else:  # BF16
        bits[(bits & 0x7F80) == 0x7F80] &= 0xBFFF
    return bits.view(np.uint8).reshape(N_BLOCKS, -1)


TYPES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K,
         T.Q8_K, T.MXFP4]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parents[2] / "tests/data/quant"))
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    for qtype in TYPES:
        raw = scalar_data(rng, qtype) if qtype in (T.F32, T.F16, T.BF16) else random_blocks(rng, qtype)
        expected = expected_values(qtype, raw)
        data = raw.reshape(-1).tobytes()
        header = b"WQRF" + struct.pack("<IQQ", int(qtype), expected.size, len(data))
        (out / f"{qtype.name}.bin").write_bytes(header + data + expected.astype("<f4").tobytes())
        print(f"{qtype.name}: {expected.size} elements, {len(data)} bytes")


if __name__ == "__main__":
    main()
