"""Summarises a length table: how often the chosen transcript is the longer one."""
import json, sys

rows = [tuple(map(int, l.split("\t"))) for l in open(sys.argv[1]) if l.strip()]
longer = sum(c > r for c, r in rows)
json.dump({"pairs": len(rows), "chosen_longer": longer, "chosen_longer_rate": longer / max(len(rows), 1)},
          open(sys.argv[2], "w"), sort_keys=True)
