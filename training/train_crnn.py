"""Train a compact CTC line recogniser for plate lines on plates the project renders itself; export it to ONNX.

Recipe (everything is generated, nothing is downloaded, nothing comes from ../shared/data):
- a random valid plate (new and old motorbike series, one- and two-line cars), a random colour (white, yellow,
  blue, red), rendered by `sample_videos.plates.render_plate` 80–450 px wide (as wide as gateway crops are) in one
  of nine faces (`_FACES`: condensed DejaVu and Liberation Sans bold/regular, mostly with the plate's foot-less
  `1` — a model that only saw a footed `1` reads the real plate's `1` as `7` — and, for 60 % of plates, thinned
  and spaced like real plates' glyphs: a model that saw only bold packed glyphs reads a real `B` as `S`);
- degraded like a gateway camera (`_augment`): stroke weight ±, aspect ±, a glare blob, a specular streak across
  the characters, dirt specks, loose crop, tilt ±7° and shear, motion blur up to a fifth of the crop's height at
  ±20° from vertical, defocus, low resolution, night (dark + noisy) or over-exposure, sensor noise, JPEG;
- then cut into lines by the *reader's own* localisation, line split and padding (`ocr.localise`), and converted
  by the runtime's own `ocr.crnn_recogniser.to_input`, so the model sees exactly what it is given at run time; a
  line's label is its printed text (with `-` and `.`).
- Model: 6 conv blocks (32→128 channels) over a 32×128 grey line, collapsed to 32 time steps, a 1-D conv head over
  the plate alphabet + blank (`ocr.line_recogniser.PLATE_CHARSET`); 0.52 M parameters, ONNX 2.1 MB. CTC loss,
  Adam with warm-up and cosine decay over a wall-clock budget, on the CPU: one process trains (1 thread), the
  DataLoader workers render.

    PYTHONPATH=. .venv/bin/python -m training.train_crnn --minutes 65 --workers 2 --checkpoint-every-min 8 \
        --out out/crnn/plate_crnn.onnx            # also writes out/crnn/plate_crnn.pt (resumable state)
    # the committed model was then trained 32 more minutes with the thin faces added (stage 2; stage 1 ran with
    # only the first five `_FACES`, shares 0.15 / 0.25 / 0.3 / 0.2 / 0.1 — both stages on all nine: not tried):
    PYTHONPATH=. .venv/bin/python -m training.train_crnn --minutes 32 --workers 2 --lr 1e-3 \
        --resume out/crnn/plate_crnn.pt --out out/crnn2/plate_crnn.onnx --checkpoint-every-min 8
    cp out/crnn2/plate_crnn.onnx ocr/models/  # the committed model (2.1 MB); the .pt is not committed

Prints the loss and the exact-line rate on a fixed held-out rendered set (its own seed) every 250 steps. Seeded,
but not bit-reproducible: the step count depends on the machine's speed within the time budget. The committed
model, its command and its held-out curve are in docs/accuracy.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ocr.crnn_recogniser import HEIGHT, WIDTH, to_input
from ocr.line_recogniser import PLATE_CHARSET
from ocr.localise import locate, pad_line, split_two_lines
from sample_videos.plates import PlateFace
from training.budget import ctc_loss, timed_steps

_LETTERS = "ABCDEFGHKLMNPRSTUVXYZ"
_FONTS = Path(__file__).resolve().parent / "fonts"  # Liberation Sans (SIL OFL 1.1, unmodified, see its LICENSE)
# Faces the characters are drawn in, mostly with the plate's foot-less `1`: the demo's condensed DejaVu, and
# Liberation Sans bold and regular (a lighter stroke, as on many real plates).
_FACES = (PlateFace(), PlateFace(None, True), PlateFace(_FONTS / "LiberationSans-Bold.ttf", True),
          PlateFace(_FONTS / "LiberationSans-Regular.ttf", True), PlateFace(_FONTS / "LiberationSans-Bold.ttf"),
          # Thin, spaced strokes like real plates' (a model that saw only bold packed glyphs reads a plate `B` as `S`).
          PlateFace(None, True, thin_px=2, width_share=0.85), PlateFace(None, True, thin_px=4, width_share=0.8),
          PlateFace(_FONTS / "LiberationSans-Bold.ttf", True, thin_px=4, width_share=0.8),
          PlateFace(_FONTS / "LiberationSans-Regular.ttf", True, width_share=0.85))
_FACE_SHARES = (0.06, 0.1, 0.12, 0.08, 0.04, 0.15, 0.15, 0.15, 0.15)
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


def _motion_kernel(length: int, angle_deg: float) -> npt.NDArray[np.float32]:
    """A line-shaped blur kernel `length` px long at `angle_deg` from vertical (vehicles move mostly along the
    image's vertical axis, the camera's shutter smears along the direction of travel)."""
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.sin(np.radians(angle_deg)), np.cos(np.radians(angle_deg))
    for t in np.linspace(-c, c, 2 * length):
        k[round(c + t * dy), round(c + t * dx)] = 1.0
    return k / k.sum()


def _augment(plate: Image, rng: np.random.Generator) -> Image:
    """Degrade a clean rendered plate the way gateway cameras do; each effect on its own coin."""
    h, w = plate.shape[:2]
    img = plate
    if rng.random() < 0.4:  # stroke weight: the real plate font is lighter or heavier than the rendered face
        k = np.ones((2, 2) if h < 150 else (3, 3), np.uint8)
        img = cv2.erode(img, k) if rng.random() < 0.5 else cv2.dilate(img, k)
    if rng.random() < 0.3:  # aspect: plates are seen a little from the side
        img = cv2.resize(img, (max(8, int(w * rng.uniform(0.8, 1.1))), h), interpolation=cv2.INTER_AREA)
        h, w = img.shape[:2]
    out = img.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.3:  # glare blob
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        out += rng.uniform(60, 200) * np.exp(-(((xx - cx) / (0.25 * w)) ** 2 + ((yy - cy) / (0.3 * h)) ** 2))[..., None]
    if rng.random() < 0.3:  # specular streak: a thin bright band across the characters (headlights on the film)
        cy, slope = rng.uniform(0.1, 0.9) * h, rng.uniform(-0.08, 0.08)
        x0, x1 = sorted(rng.uniform(0, w, 2))
        band = np.exp(-(((yy - cy - slope * (xx - w / 2)) / (rng.uniform(0.015, 0.05) * h)) ** 2))
        band *= ((xx >= x0) & (xx <= x1 + 0.2 * w)).astype(np.float32)
        out += rng.uniform(80, 255) * band[..., None]
    if rng.random() < 0.3:  # dirt specks
        for _ in range(int(rng.integers(3, 15))):
            cv2.circle(out, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), int(rng.uniform(1, max(2, h / 25))),
                       (60, 70, 80), -1)
    img = np.clip(out, 0, 255).astype(np.uint8)
    margin = rng.uniform(0.03, 0.25)
    img = cv2.copyMakeBorder(img, int(h * margin), int(h * margin), int(w * margin), int(w * margin),
                             cv2.BORDER_CONSTANT, value=tuple(int(v) for v in rng.integers(20, 120, 3)))
    ih, iw = img.shape[:2]
    matrix = cv2.getRotationMatrix2D((iw / 2, ih / 2), rng.uniform(-7, 7), 1.0)
    matrix[0, 1] += rng.uniform(-0.12, 0.12)  # shear: a plate seen off-axis
    img = cv2.warpAffine(img, matrix, (iw, ih), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.6:  # motion blur, up to a fifth of the crop's height, mostly vertical
        n = max(2, int(rng.uniform(0.02, 0.2) * ih))
        img = cv2.filter2D(img, -1, _motion_kernel(n, float(rng.normal(0, 20))))
    if rng.random() < 0.3:  # defocus
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))
    if rng.random() < 0.4:  # low resolution
        s = rng.uniform(0.25, 0.7)
        small = cv2.resize(img, (max(8, int(iw * s)), max(8, int(ih * s))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (iw, ih), interpolation=cv2.INTER_LINEAR)
    noisy = img.astype(np.float32)
    if rng.random() < 0.35:  # night: dark, flat and noisy
        noisy = noisy * rng.uniform(0.3, 0.7)
    elif rng.random() < 0.2:  # over-exposed
        noisy = 255.0 * (noisy / 255.0) ** rng.uniform(0.4, 0.8)
    noisy += rng.normal(0, rng.uniform(1, 10), noisy.shape)
    img = np.clip(noisy, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img
    return img


def sample_lines(rng: np.random.Generator) -> list[tuple[npt.NDArray[np.float32], str]]:
    """One random plate's lines as (CRNN input, printed line text) pairs (see `sample_line_images`)."""
    return [(to_input(image), text) for image, text in sample_line_images(rng)]


def sample_line_images(rng: np.random.Generator,
                       first: Callable[[Image, np.random.Generator], Image] | None = None) -> list[tuple[Image, str]]:
    """One random plate, degraded, localised, split and padded exactly as the reader does it, as (line image,
    printed line text) pairs; empty when the reader's localisation would have cut it wrongly (not a useful
    lesson). `first` degrades the clean plate before `_augment` does (a recipe's own extra fault)."""
    from sample_videos.plates import Layout, PlateColour, PlateSpec, render_plate

    compact, layout, colour = _random_spec(rng)
    try:
        spec = PlateSpec(compact, Layout(layout), PlateColour(colour))
    except ValueError:
        return []
    # Plates as wide as gateway crops are (80–450 px), whatever their physical size.
    face = _FACES[int(rng.choice(len(_FACES), p=_FACE_SHARES))]
    plate = render_plate(spec, px_per_mm=max(0.25, float(rng.uniform(80, 450)) / spec.size_mm[0]), face=face)
    located = locate(_augment(first(plate, rng) if first else plate, rng))
    images = list(split_two_lines(located.image)) if located.two_line else [located.image]
    texts = spec.display_lines
    if len(images) != len(texts) or min(min(i.shape[:2]) for i in images) < 4:
        return []
    return [(pad_line(i), t) for i, t in zip(images, texts, strict=True)]


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

        log_output = False  # training reads log-probabilities (stable CTC); the exported model gives probabilities

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.features(x)  # (N, 128, 2, 32)
            n, c, h, w = f.shape
            logits = self.head(f.reshape(n, c * h, w)).permute(0, 2, 1)  # (N, T, classes), class 0 = blank
            return torch.log_softmax(logits, dim=2) if self.log_output else torch.softmax(logits, dim=2)

    return LineNet()


def _decode(probs: npt.NDArray[np.float32]) -> str:
    best = probs.argmax(axis=1)
    out, prev = [], 0
    for idx in best.tolist():
        if idx and idx != prev:
            out.append(PLATE_CHARSET[idx - 1])
        prev = idx
    return "".join(out)


Batch = tuple[npt.NDArray[np.float32], list[str]]


def batches(seed: int, size: int) -> Iterator[Batch]:
    """Endless batches of rendered training lines (what a DataLoader worker runs, off the training thread)."""
    rng = np.random.default_rng(seed)
    while True:
        lines: list[tuple[npt.NDArray[np.float32], str]] = []
        while len(lines) < size:
            lines.extend(sample_lines(rng))
        yield np.stack([x for x, _ in lines[:size]]), [t for _, t in lines[:size]]


def held_out_set(plates: int = 300) -> Batch:
    """A fixed rendered validation set (its own seed, never trained on)."""
    rng = np.random.default_rng(12345)
    lines = [s for _ in range(plates) for s in sample_lines(rng)]
    return np.stack([x for x, _ in lines]), [t for _, t in lines]


def export_onnx(model: object, path: str) -> None:
    import torch

    assert isinstance(model, torch.nn.Module)
    model.eval()
    model.log_output = False
    torch.onnx.export(model, torch.zeros(1, 1, HEIGHT, WIDTH), path, input_names=["x"], output_names=["probs"],
                      dynamic_axes={"x": {0: "n"}, "probs": {0: "n"}}, opset_version=17, dynamo=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=40.0, help="training time budget (wall clock)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--workers", type=int, default=1, help="processes rendering training plates")
    parser.add_argument("--out", default="ocr/models/plate_crnn.onnx")
    parser.add_argument("--checkpoint-every-min", type=float, default=10.0, help="export the model this often")
    parser.add_argument("--resume", help="start from this saved state (the .pt written next to --out)")
    args = parser.parse_args()
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class Rendered(IterableDataset[Batch]):
        def __iter__(self) -> Iterator[Batch]:
            info = get_worker_info()
            return batches(args.seed * 1000 + (info.id if info else 0), args.batch)

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    held_x, held_t = held_out_set()
    loader = DataLoader(Rendered(), batch_size=None, num_workers=args.workers, prefetch_factor=4 if args.workers
                        else None, persistent_workers=args.workers > 0)
    model = build_model()
    assert isinstance(model, torch.nn.Module)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    state_path = str(Path(args.out).with_suffix(".pt"))
    if args.resume:
        saved = torch.load(args.resume)
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        print(f"resumed from {args.resume} (trained {saved['steps']} steps before)", flush=True)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    index = {ch: i + 1 for i, ch in enumerate(PLATE_CHARSET)}
    steps = 0
    # Cosine decay over the time budget (the step count is not known in advance), short linear warm-up.
    for step, (x_np, texts) in timed_steps(loader, optimiser, minutes=args.minutes, base_lr=args.lr,
                                           warmup_steps=200, checkpoint_every_min=args.checkpoint_every_min):
        model.train()
        model.log_output = True
        loss = ctc_loss(ctc, model(torch.as_tensor(x_np)), texts, index)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps = step.done + 1
        if steps % 250 == 0:
            model.eval()
            model.log_output = False
            with torch.no_grad():
                out = model(torch.as_tensor(held_x)).numpy()
            exact = sum(_decode(p) == t for p, t in zip(out, held_t, strict=True)) / len(held_t)
            print(f"step {steps} {step.elapsed_s / 60:.1f} min lr {step.lr:.5f} loss {loss.item():.3f} "
                  f"held-out exact lines {exact:.3f} of {len(held_t)}", flush=True)
        if step.checkpoint_due:
            export_onnx(model, args.out)
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "steps": steps}, state_path)
    export_onnx(model, args.out)
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "steps": steps}, state_path)
    print(f"steps {steps}; wrote {args.out}")


if __name__ == "__main__":
    main()
