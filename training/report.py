"""Figures for the model card."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def model_figures(model_dir: Path | None, out: Path) -> list[Path]:
    """Confusion matrices of a model's validation and cross-domain metrics, from its manifest."""
    from models import artifact

    manifest = artifact.read_manifest(model_dir or artifact.SHIPPED_DIR)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for key, name, title in (("validation", "confusion_validation.png", "validation split"),
                             ("cross_domain", "confusion_spotify.png", "cross-domain check")):
        metrics = manifest["metrics"].get(key)
        if metrics and "confusion" in metrics:
            title = f"{manifest['version']}: {title} ({metrics['n']} covers)"
            written.append(confusion_png(metrics["confusion"], out / name, title))
    return written


def confusion_png(confusion: dict, path: Path, title: str) -> Path:
    labels = confusion["labels"]
    matrix = np.array(confusion["matrix"], dtype=float)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.4), dpi=110)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (credited)")
    ax.set_title(title, fontsize=10)
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if shares[i, j] > 0.5 else "black"
            ax.text(j, i, f"{int(matrix[i, j])}\n{shares[i, j]:.0%}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true genre's covers")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
