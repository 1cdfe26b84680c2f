"""ImageNet-pretrained EfficientNet-Lite0 as an ONNX image embedder (onnxruntime only).

The model file is made once by ``training/export_embedder.py``. Its graph takes ``input``
(N x 3 x 224 x 224 float32, RGB, (x - 127) / 128) and returns ``embedding`` (N x 1280, the
global-average-pooled features before dropout/FC) and ``logits`` (N x 1000 ImageNet-1k logits,
class names in ``models/imagenet_classes.txt``).

The tagger also wants to know what is *where* on a cover. Rather than run the network again on
crops, the session here also returns the last feature map (N x 1280 x 7 x 7, the tensor the graph
pools into ``embedding``) and applies the graph's own classifier weights to pooled windows of it:
region logits at no extra network cost. The file on disk stays as it is (its sha256 is part of the
feature spec); the extra output is added to the graph in memory (models/onnx_graph.py).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from models.onnx_graph import with_feature_map

DEFAULT_PATH = Path(__file__).resolve().parent / "embedder" / "efficientnet_lite0.onnx"
CLASSES_PATH = Path(__file__).resolve().parent / "imagenet_classes.txt"
# Windows of the 7 x 7 feature map (rows, cols) pooled into region logits: four overlapping
# quadrants and the centre. Each sees a bit more than a quarter of the cover.
REGIONS = ((slice(0, 4), slice(0, 4)), (slice(0, 4), slice(3, 7)), (slice(3, 7), slice(0, 4)),
           (slice(3, 7), slice(3, 7)), (slice(2, 5), slice(2, 5)))


def imagenet_classes(path: Path = CLASSES_PATH) -> list[str]:
    """The 1000 ImageNet-1k class names, in logit index order."""
    return path.read_text(encoding="utf-8").splitlines()


class Embedder:
    DIM = 1280
    N_CLASSES = 1000
    SIZE = 224

    def __init__(self, path: Path | None = None, threads: int = 1):
        self.path = Path(path) if path is not None else DEFAULT_PATH
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # InferenceSession.run is thread-safe, so one session serves every caller.
        graph = with_feature_map(self.path.read_bytes())
        self._feature_map, self._fc_weight, self._fc_bias = graph.feature_map, graph.weight, graph.bias
        self._session = ort.InferenceSession(graph.model, opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._sha256: str | None = None
        self._sha_lock = threading.Lock()

    @property
    def sha256(self) -> str:
        """Hex sha256 of the model file (computed on first use)."""
        with self._sha_lock:
            if self._sha256 is None:
                h = hashlib.sha256()
                with open(self.path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                self._sha256 = h.hexdigest()
            return self._sha256

    @staticmethod
    def preprocess(images: Sequence[Image.Image]) -> np.ndarray:
        """RGB PIL images of any size -> N x 3 x 224 x 224 float32 in about [-1, 1]."""
        size = Embedder.SIZE
        out = np.empty((len(images), 3, size, size), dtype=np.float32)
        for i, img in enumerate(images):
            if img.mode != "RGB":
                img = img.convert("RGB")
            arr = np.asarray(img.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
            out[i] = ((arr - 127.0) / 128.0).transpose(2, 0, 1)
        return out

    def embed(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """(N x 1280 float32 embeddings, N x 1000 float32 logits) for a batch of any size."""
        if len(images) == 0:
            return (np.zeros((0, self.DIM), np.float32), np.zeros((0, self.N_CLASSES), np.float32))
        emb, logits, _ = self.embed_regions(images)
        return emb, logits

    def embed_regions(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """embed(), plus N x len(REGIONS) x 1000 region logits from the same network pass."""
        if len(images) == 0:
            return (np.zeros((0, self.DIM), np.float32), np.zeros((0, self.N_CLASSES), np.float32),
                    np.zeros((0, len(REGIONS), self.N_CLASSES), np.float32))
        emb, logits, fmap = self._session.run(["embedding", "logits", self._feature_map],
                                              {self._input: self.preprocess(images)})
        return np.asarray(emb, dtype=np.float32), np.asarray(logits, dtype=np.float32), self.region_logits(fmap)

    def region_logits(self, feature_map: np.ndarray) -> np.ndarray:
        """N x 1280 x 7 x 7 feature map -> N x len(REGIONS) x 1000 logits (the graph's own classifier)."""
        pooled = np.stack([feature_map[:, :, rows, cols].mean(axis=(2, 3)) for rows, cols in REGIONS], axis=1)
        return (pooled @ self._fc_weight.T + self._fc_bias).astype(np.float32)
