"""Writes assets/corpora/brackets.txt: lines of nested round brackets around letters.

A model that predicts the closing brackets well must count the nesting depth, so a unit that
tracks it should appear (the neuron finder's test case). Seeded: the file is reproducible.
Run: python tools/make_brackets.py
"""

import random
from pathlib import Path

MAX_DEPTH = 6
LETTERS = "abcdefxyz"


def expr(rng: random.Random, depth: int) -> str:
    parts = []
    for _ in range(rng.randint(1, 4)):
        if depth < MAX_DEPTH and rng.random() < 0.55 - 0.07 * depth:
            parts.append("(" + expr(rng, depth + 1) + ")")
        else:
            parts.append("".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 3))))
    return "".join(parts)


def main() -> None:
    rng = random.Random(1234)
    lines, size = [], 0
    while size < 30_000:
        line = expr(rng, 0)
        while len(line) < 30:
            line += " " + expr(rng, 0)
        lines.append(line)
        size += len(line) + 1
    out = Path(__file__).resolve().parents[1] / "assets" / "corpora" / "brackets.txt"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out} ({size} bytes, {len(lines)} lines)")


if __name__ == "__main__":
    main()
