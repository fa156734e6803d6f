"""Write the committed JSON Schemas of the wire messages: ``python -m sinks.export_schema [--check]``.

`schemas/violation.v1.json` and `schemas/plate-read.v1.json` are the contract with the data centre. A unit test fails
when the pydantic models and these files drift: change the model, run this, review the diff, commit both.
``--check`` exits 1 (and writes nothing) when the committed files are out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sinks.schema import PlateReadMessageV1, ViolationMessageV1

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
EXPORTS: dict[str, type[BaseModel]] = {
    "violation.v1.json": ViolationMessageV1,
    "plate-read.v1.json": PlateReadMessageV1,
}
_ID_BASE = "urn:lez-anpr:schema:"


def json_schema(model: type[BaseModel], filename: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _ID_BASE + filename, **schema}


def render(model: type[BaseModel], filename: str) -> str:
    return json.dumps(json_schema(model, filename), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sinks.export_schema", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=SCHEMA_DIR)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on drift")
    args = parser.parse_args(argv)
    drift = False
    for filename, model in EXPORTS.items():
        path = args.out_dir / filename
        text = render(model, filename)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        drift = True
        if args.check:
            print(f"{path}: out of date (run python -m sinks.export_schema)", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 1 if drift and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
