"""Train a compact CTC line recogniser for plate lines on plates the project renders itself; export it to ONNX.

Recipe (everything is generated, nothing is downloaded, nothing comes from ../shared/data):
- a random valid plate (new and old motorbike series, one- and two-line cars), a random colour (white, yellow,
  blue, red), rendered by `sample_videos.plates.render_plate` at 0.5–2 px/mm;
- augmented like a roadside camera: tilt ±7°, loose crop, vertical motion blur, defocus, low resolution, sensor
  noise, night (dark + noisy), a glare blob, dirt specks, JPEG compression;
- then cut into lines by the *reader's own* localisation and line split (`ocr.localise`), so the model sees exactly
  what it will be given at run time; a line's label is its printed text (with `-` and `.`).
- Model: 6 conv blocks (32→128 channels) over a 32×128 grey line, collapsed to 32 time steps, a 1-D conv head over
  the plate alphabet + blank (`ocr.line_recogniser.PLATE_CHARSET`); CTC loss, Adam, on the CPU.

    PYTHONPATH=. nice -n 19 .venv/bin/python -m training.train_crnn --minutes 25 --out ocr/models/plate_crnn.onnx

Prints the loss and the exact-line rate on a fixed held-out rendered set every few hundred steps.

Status: the recipe runs end to end (data, a training step, ONNX export: 0.52 M parameters, 2.1 MB, 3.4 ms CPU for a
two-line batch vs ≈ 20 ms for PP-OCRv4's recogniser) but has **not been trained**: on the shared 2-core machine
(load 8–15) one 48-line step took ≈ 13 s and rendering ≈ 0.27 s per plate, so a 25-minute budget is ~100 steps.
Run it where a few CPU-hours are free, then compare on `make eval` before switching any default.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import numpy.typing as npt

from ocr.line_recogniser import PLATE_CHARSET
from ocr.localise import locate, split_two_lines

HEIGHT, WIDTH = 32, 128
_LETTERS = "ABCDEFGHKLMNPRSTUVXYZ"
Image = npt.NDArray[np.uint8]


def _random_spec(rng: np.random.Generator) -> tuple[str, str, str]:
    from rules.plate_grammar import PROVINCE_CODES

    province = sorted(PROVINCE_CODES)[int(rng.integers(len(PROVINCE_CODES)))]
    letter = _LETTERS[int(rng.integers(len(_LETTERS)))]
    digits = int(rng.choice([4, 5], p=[0.2, 0.8]))
    serial = "".join(str(int(d)) for d in rng.integers(0, 10, digits))
    kind = int(rng.integers(4))
    colour = str(rng.choice(["white", "white", "yellow", "blue", "red"]))
    if kind == 0:
        return province + letter + _LETTERS[int(rng.integers(len(_LETTERS)))] + serial, "motorbike", colour
    if kind == 1:
        return province + letter + str(int(rng.integers(1, 10))) + serial, "motorbike", colour
    return province + letter + serial, ("car_one_line" if kind == 2 else "car_two_line"), colour


def _augment(plate: Image, rng: np.random.Generator) -> Image:
    h, w = plate.shape[:2]
    out = plate.astype(np.float32)
    if rng.random() < 0.3:  # glare blob
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        out += rng.uniform(60, 200) * np.exp(-(((xx - cx) / (0.25 * w)) ** 2 + ((yy - cy) / (0.3 * h)) ** 2))[..., None]
    if rng.random() < 0.3:  # dirt specks
        for _ in range(int(rng.integers(3, 15))):
            cv2.circle(out, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), int(rng.uniform(1, max(2, h / 25))),
                       (60, 70, 80), -1)
    img = np.clip(out, 0, 255).astype(np.uint8)
    margin = rng.uniform(0.03, 0.25)
    img = cv2.copyMakeBorder(img, int(h * margin), int(h * margin), int(w * margin), int(w * margin),
                             cv2.BORDER_CONSTANT, value=tuple(int(v) for v in rng.integers(20, 120, 3)))
    angle = rng.uniform(-7, 7)
    ih, iw = img.shape[:2]
    img = cv2.warpAffine(img, cv2.getRotationMatrix2D((iw / 2, ih / 2), angle, 1.0), (iw, ih),
                         borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:  # vertical motion blur
        n = max(2, int(rng.uniform(0.02, 0.12) * ih))
        img = cv2.filter2D(img, -1, np.full((n, 1), 1.0 / n, np.float32))
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))
    if rng.random() < 0.4:  # low resolution
        s = rng.uniform(0.25, 0.7)
        small = cv2.resize(img, (max(8, int(iw * s)), max(8, int(ih * s))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (iw, ih), interpolation=cv2.INTER_LINEAR)
    noisy = img.astype(np.float32)
    if rng.random() < 0.35:  # night
        noisy = noisy * rng.uniform(0.3, 0.7)
    noisy += rng.normal(0, rng.uniform(1, 10), noisy.shape)
    img = np.clip(noisy, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img
    return img


def to_input(line: Image) -> npt.NDArray[np.float32]:
    """A line image (BGR) as the model's 1×32×128 input: grey, height 32, width kept in proportion, padded."""
    grey = cv2.cvtColor(line, cv2.COLOR_BGR2GRAY) if line.ndim == 3 else line
    h, w = grey.shape[:2]
    new_w = max(1, min(WIDTH, round(w * HEIGHT / max(1, h))))
    resized = cv2.resize(grey, (new_w, HEIGHT), interpolation=cv2.INTER_AREA if h > HEIGHT else cv2.INTER_LINEAR)
    out = np.zeros((1, HEIGHT, WIDTH), np.float32)
    g = resized.astype(np.float32)
    lo, hi = np.percentile(g, 2), np.percentile(g, 98)
    # Per-line contrast (day, night, blue plates alike); the 2 % beyond the percentiles are clipped.
    out[0, :, :new_w] = np.clip((g - lo) / max(8.0, hi - lo) * 2.0 - 1.0, -1.5, 1.5)
    return out


def sample_lines(rng: np.random.Generator) -> list[tuple[npt.NDArray[np.float32], str]]:
    from sample_videos.plates import Layout, PlateColour, PlateSpec, render_plate

    compact, layout, colour = _random_spec(rng)
    try:
        spec = PlateSpec(compact, Layout(layout), PlateColour(colour))
    except ValueError:
        return []
    plate = render_plate(spec, px_per_mm=float(rng.uniform(0.5, 2.0)))
    located = locate(_augment(plate, rng))
    images = list(split_two_lines(located.image)) if located.two_line else [located.image]
    texts = spec.display_lines
    if len(images) != len(texts) or min(min(i.shape[:2]) for i in images) < 4:
        return []  # the localisation got this one wrong: not a useful training line
    return [(to_input(i), t) for i, t in zip(images, texts, strict=True)]


def build_model() -> object:
    import torch
    from torch import nn

    def block(cin: int, cout: int, pool: tuple[int, int] | None) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        return layers + ([nn.MaxPool2d(pool)] if pool else [])

    class LineNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(*block(1, 32, (2, 2)), *block(32, 64, (2, 2)), *block(64, 96, None),
                                          *block(96, 96, (2, 1)), *block(96, 128, None), *block(128, 128, (2, 1)))
            self.head = nn.Sequential(nn.Conv1d(128 * 2, 128, 3, padding=1), nn.ReLU(),
                                      nn.Conv1d(128, len(PLATE_CHARSET) + 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.features(x)  # (N, 128, 2, 32)
            n, c, h, w = f.shape
            logits = self.head(f.reshape(n, c * h, w))  # (N, classes, T)
            return torch.softmax(logits.permute(0, 2, 1), dim=2)  # (N, T, classes), class 0 = blank

    return LineNet()


def _decode(probs: npt.NDArray[np.float32]) -> str:
    best = probs.argmax(axis=1)
    out, prev = [], 0
    for idx in best.tolist():
        if idx and idx != prev:
            out.append(PLATE_CHARSET[idx - 1])
        prev = idx
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", default="ocr/models/plate_crnn.onnx")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    held_rng = np.random.default_rng(12345)
    held = [s for _ in range(150) for s in sample_lines(held_rng)]
    model = build_model()
    assert isinstance(model, torch.nn.Module)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    index = {ch: i + 1 for i, ch in enumerate(PLATE_CHARSET)}
    deadline = time.monotonic() + args.minutes * 60
    step = 0
    while time.monotonic() < deadline:
        batch: list[tuple[npt.NDArray[np.float32], str]] = []
        while len(batch) < args.batch:
            batch.extend(sample_lines(rng))
        x = torch.from_numpy(np.stack([b[0] for b in batch]))
        targets = torch.tensor([index[ch] for _, t in batch for ch in t], dtype=torch.long)
        target_lengths = torch.tensor([len(t) for _, t in batch], dtype=torch.long)
        model.train()
        probs = model(x)
        log_probs = torch.log(probs.clamp_min(1e-8)).permute(1, 0, 2)  # (T, N, C)
        input_lengths = torch.full((len(batch),), log_probs.shape[0], dtype=torch.long)
        loss = ctc(log_probs, targets, input_lengths, target_lengths)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % 200 == 0:
            model.eval()
            with torch.no_grad():
                out = model(torch.from_numpy(np.stack([h[0] for h in held]))).numpy()
            exact = sum(_decode(p) == t for p, (_, t) in zip(out, held, strict=True)) / len(held)
            print(f"step {step} loss {loss.item():.3f} held-out exact lines {exact:.3f}", flush=True)
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, HEIGHT, WIDTH), args.out, input_names=["x"], output_names=["probs"],
                      dynamic_axes={"x": {0: "n"}, "probs": {0: "n"}}, opset_version=17, dynamo=False)
    print(f"steps {step}; wrote {args.out}")


if __name__ == "__main__":
    main()
