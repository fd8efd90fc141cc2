#!/usr/bin/env python3
"""Checks medassist's forward pass against Hugging Face Transformers on the same weights.

Needs PyTorch and transformers (for example the GPU machine's image); not part of the test suite.
Prepare the data on a machine with medassist built (under 64 MiB, see docs/model.md):

  medassist synth-model --config bench/configs/qwen2-gqa7-small-vocab.json \
      --out /tmp/qwen2-check --dtype f32 --seed 1
  medassist logits --model /tmp/qwen2-check --token-ids 1,17,300,4000,5,9,77,1024 \
      --out /tmp/qwen2-check/medassist_logits.json

then run:  python3 bench/transformers_check.py /tmp/qwen2-check [--tolerance 1e-4]
It runs Qwen2ForCausalLM (float32, eager attention) on the same ids, writes
transformers_logits.json beside the model, and prints the largest absolute logit difference.
Exit status 1 when it exceeds the tolerance.
"""
import argparse
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    with open(os.path.join(args.model_dir, "medassist_logits.json")) as f:
        ours = json.load(f)
    ids = ours["ids"]
    model = AutoModelForCausalLM.from_pretrained(
        args.model_dir, torch_dtype=torch.float32, attn_implementation="eager").to(args.device)
    model.eval()
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # keep float32 matmuls exact
    with torch.no_grad():
        logits = model(torch.tensor([ids], device=args.device)).logits[0].float().cpu()
    theirs = {"ids": ids, "logits": logits.tolist(),
              "transformers": __import__("transformers").__version__, "torch": torch.__version__}
    with open(os.path.join(args.model_dir, "transformers_logits.json"), "w") as f:
        json.dump(theirs, f)

    ours_t = torch.tensor(ours["logits"])
    diff = (ours_t - logits).abs().max().item()
    agree = (ours_t.argmax(-1) == logits.argmax(-1)).sum().item()
    print(json.dumps({"max_abs_diff": diff, "max_abs_logit": logits.abs().max().item(),
                      "argmax_agree": f"{agree}/{len(ids)}", "device": args.device,
                      "transformers": theirs["transformers"], "torch": theirs["torch"]}))
    return 0 if diff <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
