"""Peak memory of `python -m bot predict` on hostile images, and the service's memory after a burst.

    .venv/bin/python benchmarks/bench_memory.py [--burst 34] [--skip-service]

Builds small files that decode to huge pictures just under the pixel cap (models.image.MAX_PIXELS):
16-bit greyscale, RGB, RGBA and palette PNGs, a JPEG, a GIF and a WebP (refused: WebP's own cap
is models.image.MAX_WEBP_PIXELS, also tried), plus one ordinary cover and one covered in text
(the reader recognises its largest boxes: the OCR's own peak).
Each runs `python -m bot predict` in its own process; its peak RSS comes from os.wait4.
Target: at most 400 MB for any image predict accepts.

Then one in-process service (the real model, a temporary store) answers `--burst` uploads of those
images at once; prints its RSS before, its peak, and its RSS afterwards.
Target: back within 100 MB of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make bot and models importable

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from models.image import MAX_PIXELS  # noqa: E402

TARGET_PEAK_MB = 400
TARGET_AFTER_MB = 100


def write_hostile_images(folder: Path) -> dict[str, bytes]:
    """The images, written by a child process: a child's peak RSS starts from its parent's at fork
    (Linux), so the parent must never hold the big pictures itself."""
    code = f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import bench_memory as b; b.save(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True)
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def save(folder: str) -> None:
    for name, data in hostile_images().items():
        (Path(folder) / name).write_bytes(data)


def hostile_images() -> dict[str, bytes]:
    """name -> file bytes; every picture is a little under MAX_PIXELS."""
    side = math.isqrt(MAX_PIXELS - 1)
    shape = (side, side)
    ramp = np.linspace(0, 65535, side, dtype=np.uint16)
    grey16 = Image.fromarray(np.broadcast_to(ramp, shape).copy())
    rgb = Image.new("RGB", shape, (200, 40, 40))
    images = {
        "grey16.png": encode(grey16, "PNG"),
        "rgb.png": encode(rgb, "PNG"),
        "rgba.png": encode(Image.new("RGBA", shape, (200, 40, 40, 128)), "PNG"),
        "palette.png": encode(rgb.convert("P"), "PNG", transparency=0),
        "large.jpg": encode(rgb, "JPEG", quality=90),
        "large.gif": encode(rgb.convert("P"), "GIF"),
        "large.webp": encode(Image.new("RGB", shape, (10, 200, 40)), "WEBP", lossless=True),
        "webp-cap.webp": encode(Image.new("RGB", (4096, 4096), (10, 200, 40)), "WEBP", lossless=True),
        "cover-640.jpg": encode(Image.effect_noise((640, 640), 60).convert("RGB"), "JPEG", quality=90),
        "cover-text.jpg": encode(text_cover(), "JPEG", quality=90),
    }
    del grey16, rgb
    return images


def text_cover() -> Image.Image:
    image = Image.new("RGB", (1000, 1000), (240, 230, 200))
    draw = ImageDraw.Draw(image)
    for y in range(40, 960, 110):
        draw.text((30, y), "GREATEST HITS VOLUME TWO", fill=(20, 20, 20), font_size=64)
    return image


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def predict_peak_mb(path: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Peak RSS (MB) of `python -m bot predict path`, its exit code, and its last stderr line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "predict", str(path), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=path.parent,
    )
    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, proc.returncode, err[-1] if err else ""


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def service_burst(images: dict[str, bytes], n: int, data_dir: Path) -> None:
    from bot.replies import Requester
    from bot.service import open_service
    from bot.settings import Settings

    settings = Settings(DATA_DIR=data_dir, _env_file=None)
    hostile = [data for name, data in images.items() if not name.startswith("cover")]
    async with open_service(settings, user_rate=0, channel_rate=0, max_queue=n) as service:
        who = Requester("console", "bench")
        await service.guess(who=who, image=images["cover-640.jpg"])  # warm: model, threads, store
        gc.collect()
        baseline = rss_mb()
        replies = await asyncio.gather(
            *(service.guess(who=Requester("console", f"u{i}"), image=hostile[i % len(hostile)]) for i in range(n))
        )
        kinds = sorted({r.kind for r in replies})
        gc.collect()
        await asyncio.sleep(0)
        after = rss_mb()
        peak = rss_mb("VmHWM")
    print(
        f"service burst of {n} hostile uploads (replies: {', '.join(kinds)}): RSS {baseline:.0f} MB before, "
        f"peak {peak:.0f} MB, {after:.0f} MB after (+{after - baseline:.0f} MB; target ≤ +{TARGET_AFTER_MB})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=34, help="uploads sent to the service at once")
    parser.add_argument("--skip-service", action="store_true", help="only measure predict")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        images = write_hostile_images(folder)
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_SECRET"))}
        env |= {"PYTHONPATH": str(ROOT), "DATA_DIR": str(folder / "data")}
        print(f"predict, peak RSS per image (target ≤ {TARGET_PEAK_MB} MB):")
        worst = 0.0
        for name, data in images.items():
            path = folder / name
            peak, code, err = predict_peak_mb(path, env)
            with Image.open(path) as image:
                size, mode = image.size, image.mode
            verdict = "ok" if code == 0 else f"refused: {err}"
            print(f"  {name:14} {len(data) / 1024:8.0f} KB  {size[0]}x{size[1]} {mode:5} peak {peak:6.0f} MB  {verdict}")
            if code == 0:
                worst = max(worst, peak)
        print(f"  worst accepted: {worst:.0f} MB ({'meets' if worst <= TARGET_PEAK_MB else 'MISSES'} the target)")
        if not args.skip_service:
            asyncio.run(service_burst(images, args.burst, folder / "service"))


if __name__ == "__main__":
    main()
