"""Reads the real HH-RLHF harmless-base test split and writes per-pair lengths.

Used by pipelines/demo.yaml, the engine demo that runs until the ML stages exist.
"""
import gzip, json, sys

src, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
with gzip.open(src, "rt", encoding="utf-8") as f, open(out, "w") as o:
    for i, line in enumerate(f):
        if i >= limit:
            break
        row = json.loads(line)
        o.write(f"{len(row['chosen'])}\t{len(row['rejected'])}\n")
