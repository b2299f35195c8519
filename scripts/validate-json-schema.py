#!/usr/bin/env python3
"""Validate JSON documents against a JSON Schema (draft 2020-12) with the reference validator.

usage: validate-json-schema.py SCHEMA DOCUMENT...   (exit 0 when every document is valid)
"""
import json
import sys

import jsonschema


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as handle:
        schema = json.load(handle)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    failures = 0
    for path in sys.argv[2:]:
        with open(path) as handle:
            document = json.load(handle)
        errors = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
        for error in errors:
            location = "/".join(str(part) for part in error.path) or "(root)"
            print(f"{path}: {location}: {error.message}")
        failures += bool(errors)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
