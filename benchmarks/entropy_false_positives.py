"""How often the high-entropy rule fires on text that holds no secret, and how often it
catches the random tokens it is for.

Usage::

    python benchmarks/entropy_false_positives.py [--smoke] [--json PATH]

The ordinary corpus, all secret-free and the same on every run:

- text: the Markdown of ``docs/`` and ``README.md``, and Python's documentation as
  ``pydoc`` ships it (``pydoc_data/topics.py``);
- code: every ``.py`` file of this Python's standard library (top level of ``Lib``) and
  of ``src/spanline``;
- ids: seeded UUIDs (with and without dashes), hex digests (MD5, SHA-1, SHA-256), git
  commit ids, spanline run ids, ISO timestamps, the ids LLM APIs return (``chatcmpl-…``,
  ``call_…``, ``msg_…``, ``toolu_…``), URL-safe base64 ids of 16 random bytes, and base64
  data URLs of small images (100 to 2,000 bytes).

A false positive is a token the rule replaces there. Rates are per 1,000 words (runs
of non-space characters) and per MB. Then the rule runs on seeded random secrets:
bare 40-character AWS secrets (base64 alphabet) and 32-character alphanumeric API
keys, and the share it catches is its recall. ``--smoke`` reads a few files only (the
test suite runs it); the figures in ``docs/reliability.md`` come from a full run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import string
import sys
import sysconfig
import uuid
from pathlib import Path

from spanline._capture._tokens import _CANDIDATE, high_entropy

ROOT = Path(__file__).resolve().parent.parent
_B64 = string.ascii_letters + string.digits + "+/"
_ALNUM = string.ascii_letters + string.digits


def _ids(rng: random.Random, count: int) -> dict[str, list[str]]:
    def image(size: int) -> str:
        data = bytes(rng.getrandbits(8) for _ in range(size))
        return "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + data).decode()

    numbers = [rng.getrandbits(64).to_bytes(8, "big") for _ in range(count)]
    return {
        "uuid": [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)],
        "uuid (no dashes)": [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(count)],
        "md5 / sha1 / sha256": [
            getattr(hashlib, name)(n).hexdigest()
            for n in numbers
            for name in ("md5", "sha1", "sha256")
        ],
        "git commit id": [f"{rng.getrandbits(160):040x}" for _ in range(count)],
        "spanline run id": [
            f"service-2026{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}T"
            f"{rng.randrange(24):02d}{rng.randrange(60):02d}{rng.randrange(60):02d}-"
            f"{rng.getrandbits(24):06x}"
            for _ in range(count)
        ],
        "ISO timestamp": [
            f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}."
            f"{rng.randrange(10**6):06d}+00:00"
            for _ in range(count)
        ],
        "LLM API ids (chatcmpl-, call_, msg_, toolu_)": [
            prefix + "".join(rng.choice(_ALNUM) for _ in range(size))
            for prefix, size in (("chatcmpl-", 29), ("call_", 24), ("msg_01", 22), ("toolu_01", 22))
            for _ in range(count // 4)
        ],
        "url-safe base64 ids (16 random bytes)": [
            base64.urlsafe_b64encode(rng.getrandbits(128).to_bytes(16, "big")).decode().rstrip("=")
            for _ in range(count)
        ],
        "base64 data URL (small image)": [
            image(rng.randrange(100, 2000)) for _ in range(max(1, count // 10))
        ],
    }


def _files(smoke: bool) -> dict[str, list[Path]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = sorted(stdlib.glob("*.py")) + sorted((ROOT / "src" / "spanline").rglob("*.py"))
    text = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    text += sorted((stdlib / "pydoc_data").glob("topics.py"))  # Python's own documentation
    if smoke:
        code, text = code[:3], text[:2]
    return {"text (docs, README, pydoc topics)": text, "code (stdlib, spanline)": code}


def _measure(texts: list[str]) -> dict[str, object]:
    words = sum(len(text.split()) for text in texts)
    size = sum(len(text.encode()) for text in texts)
    flagged = [
        match.group(0)
        for text in texts
        for match in _CANDIDATE.finditer(text)
        if high_entropy(match.group(0))
        and text[max(0, match.start() - 7) : match.start()] not in ("base64,", "base64:")
    ]
    return {
        "words": words,
        "mb": round(size / 1e6, 3),
        "flagged": len(flagged),
        "per_1000_words": round(1000 * len(flagged) / max(words, 1), 4),
        "per_mb": round(len(flagged) / max(size / 1e6, 1e-9), 2),
        "examples": sorted(set(flagged))[:5],
    }


def _recall(rng: random.Random, count: int) -> dict[str, float]:
    aws = ["".join(rng.choice(_B64) for _ in range(40)) for _ in range(count)]
    keys = ["".join(rng.choice(_ALNUM) for _ in range(32)) for _ in range(count)]
    return {
        "bare AWS secret (40, base64)": sum(map(high_entropy, aws)) / count,
        "API key (32, alphanumeric)": sum(map(high_entropy, keys)) / count,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few files only (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    rng = random.Random(20261207)
    rows: dict[str, dict[str, object]] = {}
    for name, paths in _files(args.smoke).items():
        rows[name] = _measure(
            [path.read_text(encoding="utf-8", errors="replace") for path in paths]
        )
    for name, ids in _ids(rng, 200 if args.smoke else 10_000).items():
        rows[name] = _measure(ids)
    total = _measure([])
    total["words"] = sum(int(str(row["words"])) for row in rows.values())
    total["flagged"] = sum(int(str(row["flagged"])) for row in rows.values())
    total["per_1000_words"] = round(1000 * int(total["flagged"]) / max(int(total["words"]), 1), 4)
    recall = _recall(rng, 100 if args.smoke else 10_000)
    print("| corpus | words | MB | flagged | per 1,000 words | per MB |")
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        cells = (row["words"], row["mb"], row["flagged"], row["per_1000_words"], row["per_mb"])
        print(f"| {name} | " + " | ".join(str(cell) for cell in cells) + " |")
    print(f"| **all** | {total['words']} | | {total['flagged']} | {total['per_1000_words']} | |")
    print()
    for name, share in recall.items():
        print(f"caught: {name}: {share:.2%}")
    for name, row in rows.items():
        if row["examples"]:
            print(f"flagged in {name}, e.g.: {', '.join(map(str, row['examples']))}")
    if args.json:
        document = {"python": sys.version.split()[0], "corpus": rows, "recall": recall}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
