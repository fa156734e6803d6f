"""Fine-tune PP-OCRv4's text recogniser on plate lines the project renders itself; write it back as ONNX.

Why fine-tune rather than train from scratch: the plate CRNN (`training.train_crnn`) reads rendered plates better
than PP-OCR but real ones worse (docs/accuracy.md): what it learnt is the renderer. PP-OCR's recogniser learnt
from real photographs; a short fine-tune with a small learning rate teaches it the plate's glyphs and the gateway
camera's faults (motion blur, glare, low resolution) while it keeps what it knows about real images.

Recipe (nothing is downloaded, nothing comes from ../shared/data):
- start: `ch_PP-OCRv4_rec_infer.onnx` from the pinned rapidocr-onnxruntime wheel, converted to PyTorch with
  onnx2torch (Constant nodes made initializers, every tensor's shape recorded by one onnxruntime run, float
  constants made trainable: the SVTR neck's matrices and the 6,625-class head are constants in this ONNX);
- data: `training.train_crnn.sample_line_images` (the same rendered, degraded plates, localised, split and
  padded by the reader's own code) fed through the runtime's own batch builder `ocr.line_recogniser.paddle_batch`;
- loss: CTC over the model's full dictionary (so probability leaves the 6,600 non-plate classes too); the graph
  stays in inference mode (batch-norm statistics frozen: they describe real images);
- Adam, warm-up then cosine decay over a wall-clock budget, gradient clipping;
- out: the original ONNX file with its weights replaced tensor by tensor (same graph, same metadata — the
  character dictionary the runtime reads), so `ocr.line_recogniser.PaddleLineRecogniser` loads it unchanged.

    # onnx2torch==1.5.15 is in requirements.txt (training only; the runtime needs onnxruntime alone)
    # Round 1: 40 min, 1606 steps of 16 lines; held-out rendered lines exact 0.616 (untouched) -> 0.913.
    PYTHONPATH=. .venv/bin/python -m training.finetune_ppocr_rec --minutes 40 --lr 5e-5 --out out/ppft/round1.onnx
    # Round 2: 22 min more, 654 steps, with saturated glare bands on 35 % of plates and a pull (0.2) towards the
    # untouched model's beliefs; held-out 0.905. Round 1 alone read the real photos better but made 2 *sure*
    # wrong reads (a `B` half wiped by glare read as `D`, a blurred `H` as `B`): round 2 teaches that what glare
    # hides is uncertain, and keeps the model as unsure as the original where the original was unsure.
    PYTHONPATH=. .venv/bin/python -m training.finetune_ppocr_rec --minutes 22 --lr 3e-5 --start out/ppft/round1.onnx \
        --streak-share 0.35 --distill 0.2 --out out/ppft/round2.onnx
    # committed: its change from the original, fp16 (4.7 MB; the whole round-2 model had sha256 90fcb09d…a6ce41)
    PYTHONPATH=. .venv/bin/python -m training.finetune_ppocr_rec --save-delta out/ppft/round2.onnx \
        ocr/models/ppocr_plate_rec.delta.npz

Seeded, but not bit-reproducible: the step count depends on the machine's speed within the time budget. Prints the
CTC loss and the exact-line rate (plate characters only, greedy, as the runtime decodes) on a fixed
held-out rendered set every `--eval-every` steps, starting with the untouched model.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ocr.line_recogniser import PLATE_CLASSES, ctc_decode, paddle_batch, rec_model_path
from training.budget import ctc_loss, timed_steps
from training.train_crnn import sample_line_images

Batch = tuple[npt.NDArray[np.float32], list[str]]
Image = npt.NDArray[np.uint8]


def _constants_as_initializers(model: Any) -> Any:
    """The same ONNX model with every Constant node turned into an initializer (what onnx2torch reads)."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    kept = []
    for node in out.graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            tensor = node.attribute[0].t
            tensor.name = node.output[0]
            out.graph.initializer.append(tensor)
        else:
            kept.append(node)
    del out.graph.node[:]
    out.graph.node.extend(kept)
    return out


def _with_recorded_shapes(model: Any) -> Any:
    """Annotate every intermediate tensor with its shape from one onnxruntime run on a 48×320 line (ONNX shape
    inference cannot follow this graph's dynamic reshapes; onnx2torch needs the ranks)."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    types = {v.name: v.type.tensor_type.elem_type for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    outputs = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        for name in node.output:
            if name not in outputs:
                probe.graph.output.append(helper.make_tensor_value_info(name, types.get(name) or 1, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    values = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, 48, 320), np.float32)})
    del model.graph.value_info[:]
    for out, value in zip(session.get_outputs(), values, strict=True):
        if out.name not in outputs:
            model.graph.value_info.append(helper.make_tensor_value_info(
                out.name, helper.np_dtype_to_tensor_dtype(value.dtype), list(value.shape)))
    return model


def load_trainable(path: Path) -> tuple[Any, dict[str, str]]:
    """PP-OCR's recogniser as a trainable torch module in inference mode, and for each of its parameters the name
    of the ONNX Constant it came from (matched by value; the names are how `write_back` finds them again)."""
    import onnx
    import torch
    from onnx import numpy_helper
    from onnx2torch import convert

    original = onnx.load(str(path))
    module = convert(_with_recorded_shapes(_constants_as_initializers(original)))
    # Float constants with more than one value are weights (matrices, biases, norms); make them trainable.
    for owner in list(module.modules()):
        if isinstance(owner, torch.nn.modules.batchnorm._BatchNorm):
            continue  # running statistics stay buffers (frozen: they describe real images)
        for name, buffer in list(owner.named_buffers(recurse=False)):
            if buffer.is_floating_point() and buffer.numel() > 1:
                delattr(owner, name)
                owner.register_parameter(name, torch.nn.Parameter(buffer.clone()))
    by_value: dict[tuple[tuple[int, ...], bytes], list[str]] = {}
    for node in original.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            array = numpy_helper.to_array(node.attribute[0].t)
            if array.dtype == np.float32 and array.size > 1:
                by_value.setdefault((array.shape, array.tobytes()), []).append(node.output[0])
    names: dict[str, str] = {}
    for name, param in module.named_parameters():
        value = param.detach().numpy().astype(np.float32)
        found = by_value.get((value.shape, value.tobytes()), [])
        if len(found) != 1:
            raise RuntimeError(f"parameter {name} {value.shape}: {len(found)} ONNX constants with its value")
        names[name] = found[0]
    # Inference mode, and it stays so while training: batch-norm statistics are those learnt on real images.
    module.eval()
    return module, names


def write_back(path: Path, module: Any, names: dict[str, str], out: Path) -> None:
    """The ONNX model at `path` with each mapped Constant replaced by the module's trained parameter."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    params = dict(module.named_parameters())
    by_onnx = {onnx_name: params[name].detach().numpy().astype(np.float32) for name, onnx_name in names.items()}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] in by_onnx:
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(by_onnx[node.output[0]], node.output[0]))
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))


def saturated_streak(plate: Image, rng: np.random.Generator, share: float) -> Image:
    """On `share` of plates, a headlight's reflection as real gateway frames show it: a band 5–20 % of the plate's
    height, saturated white, across part of the characters — it wipes half a `B` (what is left could be a `D`),
    so the model must learn that what it cannot see is uncertain, not that it is a `D`."""
    if rng.random() >= share:
        return plate
    h, w = plate.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, slope, half = rng.uniform(0.1, 0.9) * h, rng.uniform(-0.1, 0.1), rng.uniform(0.025, 0.1) * h
    x0 = rng.uniform(0, 0.7) * w
    x1 = min(float(w), x0 + rng.uniform(0.3, 1.0) * w)
    band = np.clip(1.5 - np.abs(yy - cy - slope * (xx - w / 2)) / half, 0, 1) * ((xx >= x0) & (xx <= x1))
    out = plate.astype(np.float32) + rng.uniform(200, 300) * band[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def loose_surround(plate: Image, rng: np.random.Generator, share: float) -> Image:
    """On `share` of plates, the plate inside a much larger crop (25–100 % of its size on each side) of dark,
    noisy surroundings with a few bright patches (lamps, stickers, body panels): a hand-cut or generous crop, where
    the reader's localisation may not find the plate and the lines it reads carry background."""
    if rng.random() >= share:
        return plate
    h, w = plate.shape[:2]
    my, mx = int(h * rng.uniform(0.25, 1.0)), int(w * rng.uniform(0.25, 1.0))
    base = rng.uniform(15, 90, 3)
    canvas = np.clip(base + rng.normal(0, 12, (h + 2 * my, w + 2 * mx, 3)), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 4))):
        ph, pw = int(h * rng.uniform(0.1, 0.6)), int(w * rng.uniform(0.1, 0.8))
        py, px = int(rng.integers(0, canvas.shape[0] - ph)), int(rng.integers(0, canvas.shape[1] - pw))
        canvas[py:py + ph, px:px + pw] = rng.uniform(120, 250, 3)
    oy, ox = int(rng.integers(0, 2 * my + 1)), int(rng.integers(0, 2 * mx + 1))  # not always centred
    canvas[oy:oy + h, ox:ox + w] = plate
    return canvas


def save_delta(original: Path, tuned: Path, out: Path) -> int:
    """Each weight `tuned` changed from `original`, as its change in fp16 (compressed npz): what is committed in
    place of the whole model (`ocr.line_recogniser.plate_rec_model_bytes` adds it back). Returns how many."""
    import onnx
    from onnx import numpy_helper

    def constants(path: Path) -> dict[str, npt.NDArray[np.float32]]:
        return {node.output[0]: numpy_helper.to_array(node.attribute[0].t)
                for node in onnx.load(str(path)).graph.node if node.op_type == "Constant"}

    before, after = constants(original), constants(tuned)
    changes = {name: (after[name] - value).astype(np.float16) for name, value in before.items()
               if value.dtype == np.float32 and not np.array_equal(value, after[name])}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **changes)  # type: ignore[arg-type]
    return len(changes)


def batches(seed: int, size: int, streak_share: float, loose_share: float = 0.0) -> Iterator[Batch]:
    rng = np.random.default_rng(seed)

    def degrade(plate: Image, r: np.random.Generator) -> Image:
        return loose_surround(saturated_streak(plate, r, streak_share), r, loose_share)

    while True:
        lines: list[tuple[Any, str]] = []
        while len(lines) < size:
            lines.extend(sample_line_images(rng, degrade if streak_share > 0 or loose_share > 0 else None))
        yield paddle_batch([image for image, _ in lines[:size]]), [text for _, text in lines[:size]]


def held_out_lines(plates: int) -> list[tuple[Any, str]]:
    rng = np.random.default_rng(12345)  # the CRNN's held-out seed: never trained on by either
    return [line for _ in range(plates) for line in sample_line_images(rng)]


def exact_lines(module: Any, keep: npt.NDArray[np.int64], held: list[tuple[Any, str]]) -> float:
    """Share of held-out lines read exactly, decoded as the runtime decodes (plate classes only, greedy)."""
    import torch

    right = 0
    with torch.no_grad():
        for i in range(0, len(held), 32):
            chunk = held[i:i + 32]
            probs = module(torch.as_tensor(paddle_batch([image for image, _ in chunk]))).numpy()[:, :, keep]
            right += sum(ctc_decode(p, PLATE_CLASSES).text == text for p, (_, text) in zip(probs, chunk, strict=True))
    return right / max(1, len(held))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=40.0, help="training time budget (wall clock)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    parser.add_argument("--workers", type=int, default=1, help="processes rendering training plates")
    parser.add_argument("--held-out", type=int, default=150, help="rendered plates in the held-out set")
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--checkpoint-every-min", type=float, default=10.0)
    parser.add_argument("--distill", type=float, default=0.0,
                        help="weight of a pull towards the untouched model's per-step beliefs (KL divergence): "
                             "keeps it unsure where the original is, at the cost of learning less")
    parser.add_argument("--streak-share", type=float, default=0.0,
                        help="share of training plates with a saturated glare band (`saturated_streak`)")
    parser.add_argument("--loose-share", type=float, default=0.0,
                        help="share of training plates inside a much larger crop (`loose_surround`)")
    parser.add_argument("--start", type=Path, help="continue from this fine-tuned ONNX (default: the original)")
    parser.add_argument("--out", default="out/ppft/plate_rec.onnx")
    parser.add_argument("--save-delta", nargs=2, metavar=("TUNED_ONNX", "DELTA_NPZ"), type=Path,
                        help="only write TUNED_ONNX's change from the original as DELTA_NPZ (what is committed)")
    args = parser.parse_args()
    if args.save_delta:
        count = save_delta(rec_model_path(), *args.save_delta)
        print(f"{count} changed weight tensors -> {args.save_delta[1]}")
        return
    import onnx
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class Rendered(IterableDataset[Batch]):
        def __iter__(self) -> Iterator[Batch]:
            info = get_worker_info()
            return batches(args.seed * 1000 + (info.id if info else 0), args.batch, args.streak_share,
                           args.loose_share)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    source = rec_model_path()
    characters = onnx.load(str(source)).metadata_props
    dictionary = next(p.value for p in characters if p.key == "character").splitlines()
    index = {ch: i + 1 for i, ch in enumerate(dictionary)}  # class 0 is the CTC blank
    keep = np.array([0] + [index[ch] for ch in PLATE_CLASSES[1:]], dtype=np.int64)
    module, names = load_trainable(args.start or source)  # written back into the original's graph either way
    teacher = load_trainable(source)[0].requires_grad_(False) if args.distill > 0 else None
    held = held_out_lines(args.held_out)
    print(f"{len(names)} weight tensors trainable; held-out {len(held)} lines; exact lines before training "
          f"{exact_lines(module, keep, held):.3f}", flush=True)
    optimiser = torch.optim.Adam(module.parameters(), lr=args.lr)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    loader = DataLoader(Rendered(), batch_size=None, num_workers=args.workers,
                        prefetch_factor=4 if args.workers else None, persistent_workers=args.workers > 0)
    out = Path(args.out)
    steps = 0
    for step, (x_np, texts) in timed_steps(loader, optimiser, minutes=args.minutes, base_lr=args.lr,
                                           warmup_steps=100, checkpoint_every_min=args.checkpoint_every_min):
        x = torch.as_tensor(x_np)
        log_probs = torch.log(module(x).clamp_min(1e-8))  # (N, T, classes): the graph ends in a softmax
        loss = ctc_loss(ctc, log_probs, texts, index)
        if teacher is not None:
            with torch.no_grad():
                original = teacher(x).clamp_min(1e-8)
            # KL(original ‖ tuned) per time step, averaged over steps and lines.
            loss = loss + args.distill * (original * (original.log() - log_probs)).sum(dim=2).mean()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
        optimiser.step()
        steps = step.done + 1
        if steps % args.eval_every == 0:
            print(f"step {steps} {step.elapsed_s / 60:.1f} min lr {step.lr:.6f} loss {loss.item():.3f} "
                  f"held-out exact lines {exact_lines(module, keep, held):.3f}", flush=True)
        if step.checkpoint_due:
            write_back(source, module, names, out)
    write_back(source, module, names, out)
    print(f"steps {steps}; held-out exact lines {exact_lines(module, keep, held):.3f}; wrote {out}", flush=True)


if __name__ == "__main__":
    main()
