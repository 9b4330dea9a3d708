#!/usr/bin/env python3
"""Expected values for tests/unit/test_sampling_sampler.cpp (SeededDraws*),
computed from the published algorithms, not from worker_cuda:

  * MT19937-64 (Matsumoto & Nishimura, "mt19937-64.c", 2004; the engine C++
    calls std::mt19937_64): init_genrand64(seed) and genrand64_int64(),
    checked here against the value the C++ standard requires of it ([rand.predef]:
    the 10000th output of a default-seeded (5489) std::mt19937_64 is
    9981545732273789042);
  * uniform01 as src/sampling/sampler.h documents it: the 53 high bits of one
    output times 2^-53 (exact in a double);
  * the draw as src/sampling/sampler.h documents it: the id whose cumulative
    softmax probability (ids by descending logit) first exceeds u.

    python3 scripts/oracle/gen_sampler_draws.py
"""

import math
from fractions import Fraction

MASK64 = (1 << 64) - 1
NN, MM = 312, 156
MATRIX_A = 0xB5026F5AA96619E9
UM, LM = 0xFFFFFFFF80000000, 0x7FFFFFFF


class MT19937_64:
    def __init__(self, seed):
        self.mt = [0] * NN
        self.mt[0] = seed & MASK64
        for i in range(1, NN):
            self.mt[i] = (6364136223846793005 * (self.mt[i - 1] ^ (self.mt[i - 1] >> 62)) + i) & MASK64
        self.mti = NN

    def next(self):
        mag01 = (0, MATRIX_A)
        if self.mti >= NN:
            mt = self.mt
            for i in range(NN - MM):
                x = (mt[i] & UM) | (mt[i + 1] & LM)
                mt[i] = mt[i + MM] ^ (x >> 1) ^ mag01[x & 1]
            for i in range(NN - MM, NN - 1):
                x = (mt[i] & UM) | (mt[i + 1] & LM)
                mt[i] = mt[i + (MM - NN)] ^ (x >> 1) ^ mag01[x & 1]
            x = (mt[NN - 1] & UM) | (mt[0] & LM)
            mt[NN - 1] = mt[MM - 1] ^ (x >> 1) ^ mag01[x & 1]
            self.mti = 0
        x = self.mt[self.mti]
        self.mti += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x & MASK64


def uniform01(x):
    return Fraction(x >> 11, 1 << 53)


def main():
    g = MT19937_64(5489)
    for _ in range(9999):
        g.next()
    assert g.next() == 9981545732273789042, "not the engine the C++ standard specifies"

    logits = [1.0, 0.0, 2.0, -1.0, 0.5]
    order = sorted(range(len(logits)), key=lambda i: (-logits[i], i))
    z = sum(math.exp(v) for v in logits)
    cumulative, edges = 0.0, []
    for i in order:
        cumulative += math.exp(logits[i]) / z
        edges.append((cumulative, i))

    g = MT19937_64(7)
    print("seed 7: output, uniform01, id drawn at temperature 1 from", logits)
    for _ in range(8):
        x = g.next()
        u = uniform01(x)
        chosen = next(i for c, i in edges if float(u) < c)
        margin = min(abs(float(u) - c) for c, _ in edges)
        assert margin > 1e-6, "too close to a boundary for float rounding to be irrelevant"
        print(f"  {x}u, {float(u).hex()}, {chosen}   (|u - nearest edge| = {margin:.3g})")


if __name__ == "__main__":
    main()
