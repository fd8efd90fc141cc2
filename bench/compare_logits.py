#!/usr/bin/env python3
"""Compares two logits dumps: {"ids": [...], "logits": [[vocab floats] per position]}.

Written by `medassist logits`, by llama.cpp-based tools and by bench/transformers_check.py.
Prints the largest absolute difference, the largest logit magnitude, and whether the argmax
agrees at every position; exits 1 when the difference exceeds --tolerance.

  python3 bench/compare_logits.py ours.json theirs.json --tolerance 1e-4
"""
import argparse
import json
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    return data["ids"], data["logits"]


def argmax(row):
    best = 0
    for i, v in enumerate(row):
        if v > row[best]:
            best = i
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    ids_a, logits_a = load(args.a)
    ids_b, logits_b = load(args.b)
    if ids_a != ids_b:
        sys.exit(f"the dumps are for different ids: {ids_a[:8]}... vs {ids_b[:8]}...")
    if len(logits_a) != len(logits_b) or any(len(x) != len(y) for x, y in zip(logits_a, logits_b)):
        sys.exit("the dumps have different shapes")
    max_diff, max_mag, argmax_same = 0.0, 0.0, 0
    for row_a, row_b in zip(logits_a, logits_b):
        max_diff = max(max_diff, max(abs(x - y) for x, y in zip(row_a, row_b)))
        max_mag = max(max_mag, max(abs(x) for x in row_a))
        argmax_same += argmax(row_a) == argmax(row_b)
    print(json.dumps({"positions": len(ids_a), "vocab": len(logits_a[0]),
                      "max_abs_diff": max_diff, "max_abs_logit": max_mag,
                      "argmax_agree": f"{argmax_same}/{len(ids_a)}"}))
    return 0 if max_diff <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
