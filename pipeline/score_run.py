"""Score what `lez-anpr run` published for a folder of labelled stills against that folder's `labels.csv`.

`eval` measures the reading path image by image; this measures the *whole* job (tracking, consensus, emit) as an
operator runs it: `run --source FOLDER --out DIR`, then

    python -m pipeline.score_run --run-out DIR --labels DATA/labels.csv --set mrz_vlp --images DATA/mrz_vlp

An image folder's frames are stamped `start + index / fps` in name order (`ImageFolderSource`), so a message's
capture time tells which image it came from. A labelled readable plate counts as read when some passage of its
image carries exactly its text. Prints counts only: plate text stays out of the output (personal data).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from pipeline.evaluate import load_labels
from pipeline.sources import IMAGE_SUFFIXES


def reads_by_image(run_out: Path, image_names: list[str], start: datetime, fps: float) -> dict[str, set[str]]:
    reads: dict[str, set[str]] = defaultdict(set)
    for path in run_out.glob("lez.plate-reads*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            msg = json.loads(line)
            captured = datetime.fromisoformat(msg["captured_at_utc"].replace("Z", "+00:00"))
            index = round((captured - start).total_seconds() * fps)
            if 0 <= index < len(image_names) and msg["plate"]["status"] == "read":
                reads[image_names[index]].add(msg["plate"]["text"])
    return reads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-out", type=Path, required=True, help="the folder given to `run --out`")
    parser.add_argument("--labels", type=Path, required=True, help="labels.csv of the data folder")
    parser.add_argument("--set", required=True, help="the `set` column value of the folder that was run")
    parser.add_argument("--images", type=Path, required=True, help="the image folder that was run")
    parser.add_argument("--start", default="2026-07-03T12:00:00+00:00", help="the camera's start_time")
    parser.add_argument("--fps", type=float, default=1.0, help="the camera's image_fps")
    args = parser.parse_args(argv)

    names = sorted(p.name for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    reads = reads_by_image(args.run_out, names, datetime.fromisoformat(args.start), args.fps)
    labels = [lb for lb in load_labels(args.labels.parent) if lb.set_name == args.set and lb.readable]
    exact = sum(1 for lb in labels if lb.compact in reads.get(lb.file, set()))
    truths = {(lb.file, lb.compact) for lb in labels}
    published = sum(len(texts) for texts in reads.values())
    wrong = sum(1 for name, texts in reads.items() for text in texts if (name, text) not in truths)
    print(f"set={args.set} images={len(names)} labelled_readable={len(labels)} exact={exact} "
          f"exact_rate={exact / max(1, len(labels)):.4f} published_reads={published} reads_matching_no_label={wrong}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
