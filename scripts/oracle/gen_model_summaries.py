#!/usr/bin/env python3
"""What the `gguf` Python package reads from the real models, as JSON, for
tests/unit/test_gguf_real_models.cpp to compare the library's parser with.

For each model: header facts, every tensor (name, type, dims in GGUF order,
absolute data offset, byte size), per-type totals, every metadata key with its
type and value (arrays: element type, length, first and last 8 elements), and
for the first tensor of each type its first 512 values as gguf.quants
dequantizes them (checks our dequantizers on real weights).
Strings that are not valid UTF-8 are written as {"hex": "..."}.

Also tests/data/models/vocab.json: for each vocabulary-only file in
../shared/testdata/vocab, the architecture, tokenizer model, vocabulary size
and counts of keys and tensors (what worker-cli info reports for them).

Usage: python3 scripts/oracle/gen_model_summaries.py [--models DIR] [--vocab DIR] [--out tests/data/models]
Requires: pip install gguf==0.19.0 numpy; the models fetched by scripts/fetch-models.sh.
"""

import argparse
import json
import os
import pathlib

import numpy as np
from gguf import GGML_QUANT_SIZES, GGUFReader, GGUFValueType, quants

MODELS = {
    "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3": "gemma-3-270m-q4_k_m.gguf",
}
ARRAY_EDGE = 8
SAMPLE_VALUES = 512


def decode(raw: bytes):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": raw.hex()}


def scalar(value_type: GGUFValueType, part: np.ndarray):
    if value_type == GGUFValueType.STRING:
        return decode(part.tobytes())
    if value_type == GGUFValueType.BOOL:
        return bool(part[0])
    if value_type in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return float(part[0])  # float32 -> float64 is exact; json writes the shortest exact repr
    return int(part[0])


def field_json(field) -> dict:
    main = field.types[0]
    if main != GGUFValueType.ARRAY:
        return {"type": main.name.lower(), "value": scalar(main, field.parts[field.data[0]])}
    if len(field.types) != 2:
        raise SystemExit(f"{field.name}: nested arrays are not summarised")
    element = field.types[1]
    values = [scalar(element, field.parts[i]) for i in field.data]
    return {
        "type": "array",
        "element_type": element.name.lower(),
        "length": len(values),
        "head": values[:ARRAY_EDGE],
        "tail": values[-ARRAY_EDGE:] if len(values) > ARRAY_EDGE else [],
    }


def summarise(path: pathlib.Path) -> dict:
    reader = GGUFReader(str(path))
    metadata = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):  # the reader's own header pseudo-fields
            continue
        metadata[name] = field_json(field)
    tensors = []
    per_type: dict[str, dict[str, int]] = {}
    samples = {}
    for t in reader.tensors:
        if t.tensor_type.name not in per_type:
            block_size, type_size = GGML_QUANT_SIZES[t.tensor_type]
            n = min(SAMPLE_VALUES, int(t.n_elements))
            raw = t.data.reshape(-1).view(np.uint8)[: n // block_size * type_size]
            values = quants.dequantize(raw, t.tensor_type).reshape(-1)
            samples[t.name] = [float(v) for v in values.astype(np.float32)]
        dims = [int(d) for d in t.shape]  # GGUF order: dims[0] is the contiguous one
        tensors.append({
            "name": t.name,
            "type": t.tensor_type.name,
            "type_id": int(t.tensor_type),
            "dims": dims,
            "offset": int(t.data_offset),
            "n_bytes": int(t.n_bytes),
        })
        entry = per_type.setdefault(t.tensor_type.name, {"count": 0, "bytes": 0, "elements": 0})
        entry["count"] += 1
        entry["bytes"] += int(t.n_bytes)
        entry["elements"] += int(t.n_elements)
    version = int(reader.fields["GGUF.version"].parts[-1][0])
    return {
        "file": path.name,
        "file_size": path.stat().st_size,
        "version": version,
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "tensor_count": len(tensors),
        "metadata_count": len(metadata),
        "parameter_count": sum(e["elements"] for e in per_type.values()),
        "per_type": per_type,
        "tensors": tensors,
        "metadata": metadata,
        "samples": samples,
    }


def main() -> None:
    root = pathlib.Path(__file__).resolve().parents[2]
    default_models = os.environ.get("WORKER_MODEL_CACHE", str(pathlib.Path.home() / ".cache/worker_cuda/models"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=default_models)
    parser.add_argument("--vocab", default=str(root.parent / "shared/testdata/vocab"))
    parser.add_argument("--out", default=str(root / "tests/data/models"))
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for key, file in MODELS.items():
        summary = summarise(pathlib.Path(args.models) / file)
        (out / f"{key}.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{key}: {summary['tensor_count']} tensors, {summary['metadata_count']} keys")
    vocab = {}
    for path in sorted(pathlib.Path(args.vocab).glob("*.gguf")):
        reader = GGUFReader(str(path))
        fields = {k: v for k, v in reader.fields.items() if not k.startswith("GGUF.")}
        vocab[path.name] = {
            "architecture": fields["general.architecture"].contents(),
            "tokenizer_model": fields["tokenizer.ggml.model"].contents(),
            "vocab_size": len(fields["tokenizer.ggml.tokens"].data),
            "metadata_count": len(fields),
            "tensor_count": len(reader.tensors),
        }
    (out / "vocab.json").write_text(json.dumps(vocab, indent=1) + "\n", encoding="utf-8")
    print(f"vocab: {len(vocab)} files")


if __name__ == "__main__":
    main()
