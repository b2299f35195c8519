#!/usr/bin/env python3
"""Differential check of cc-ci's TOML reader against Python's tomllib (TOML 1.0).

usage: scripts/toml-differential.py [COUNT]     (needs .build/debug/ccci-fuzz)

Mutates the repository's .toml files and a set of tricky documents, feeds each input to both
readers, and reports every input where they disagree on accepting it, or on the values.
Known, intended difference: integers beyond 64 bits (TOML requires an error; tomllib accepts).
"""
import datetime
import glob
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import tomllib

TOKENS = ["[", "]", "[[", "]]", "{", "}", "=", ".", ",", '"', "'", '"""', "'''", "\\", "\\u00e9", "\n", "\r\n",
          "#", " ", "\t", "0x1F", "0o7", "0b1", "1_000", "1e5", "-inf", "nan", "true", "false", "1979-05-27",
          "07:32:00", "T", "Z", "+01:00", "a.b", "\"k\"", "_", "-", "1.5"]
TRICKY = [
    "a = 1\n", "a.b.c = 1\n[a.d]\n", "[a.b.c]\n[a]\nb.d = 1\n", "a = {b.c = 1}\n", "[[x]]\n[x.y]\n[[x]]\n",
    'a = """\nx \\\n  y"""\n', "a = '''\n'''\n", "a = [1, [2, {b = 3}],]\n", "a = 1979-05-27 07:32:00+01:00\n",
]


def normalise(value):
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return "nan" if math.isnan(value) else value
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return "datetime"
    return value


def ours(binary, path):
    output = subprocess.run([binary, "toml-json", path], capture_output=True, text=True, timeout=20).stdout
    return json.loads(output)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    binary = os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "ccci-fuzz")
    seeds = TRICKY + [open(f, encoding="utf-8").read() for f in glob.glob("Fixtures/**/*.toml", recursive=True)]
    rng = random.Random(1234)
    disagreements = 0
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "input.toml")
        for index in range(count):
            text = rng.choice(seeds)
            for _ in range(rng.randint(0, 3)):
                position = rng.randint(0, len(text))
                if rng.random() < 0.7:
                    text = text[:position] + rng.choice(TOKENS) + text[position:]
                else:
                    text = text[:position] + text[position + rng.randint(1, 4):]
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            try:
                theirs = {"ok": normalise(tomllib.loads(text))}
            except tomllib.TOMLDecodeError:
                theirs = {"error": True}
            except ValueError:
                theirs = {"error": True}
            mine = ours(binary, path)
            if "ok" in mine:
                mine = {"ok": normalise(mine["ok"])}
            same = ("error" in mine) == ("error" in theirs)
            if same and "ok" in mine:
                # Date-times are text in cc-ci's reader; compare shapes only there.
                same = values_equal(mine["ok"], theirs["ok"])
            if not same:
                if any(isinstance(v, int) and abs(v) > 2**63 for v in walk(theirs.get("ok"))):
                    continue
                disagreements += 1
                print(f"--- disagreement {disagreements}: {text!r}\n  cc-ci:   {mine}\n  tomllib: {theirs}")
    print(f"{count} inputs, {disagreements} disagreements")
    return 1 if disagreements else 0


def walk(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)
    else:
        yield value


def values_equal(mine, theirs):
    if theirs == "datetime":
        return isinstance(mine, str)
    if isinstance(theirs, dict):
        return isinstance(mine, dict) and mine.keys() == theirs.keys() and all(
            values_equal(mine[k], theirs[k]) for k in theirs)
    if isinstance(theirs, list):
        return isinstance(mine, list) and len(mine) == len(theirs) and all(
            values_equal(a, b) for a, b in zip(mine, theirs))
    if isinstance(theirs, float) and math.isinf(theirs):
        return mine == ("inf" if theirs > 0 else "-inf")
    if isinstance(theirs, float) and isinstance(mine, (int, float)):
        return mine == theirs
    return mine == theirs


if __name__ == "__main__":
    sys.exit(main())
