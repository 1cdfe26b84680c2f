# Sleeve: the Discord bot in a slim, non-root image. The shipped model (models/artifacts,
# models/embedder) is installed with the package; trained models and the database (votes and
# feature vectors; no images are stored) go to the /data volume.
#
#   docker build -t sleeve .
#   docker run -d --env-file .env -v sleeve-data:/data sleeve            # Discord
#   docker run -it --env-file .env -v sleeve-data:/data sleeve python -m bot console

# --- builder: a venv with Sleeve and its dependencies (wheels only, no compilers) -----------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY models/ models/
COPY feedback/ feedback/
COPY training/ training/
COPY bot/ bot/
RUN pip install --no-cache-dir --only-binary=:all: -c constraints.txt .

# --- final: the venv only, run as an unprivileged user -----------------------------------------
FROM python:3.11-slim-bookworm

# opencv-python (pulled by the cover reader, rapidocr-onnxruntime) links libGL and glib, which the
# slim image lacks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 sleeve \
 && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/sleeve --shell /usr/sbin/nologin sleeve \
 && mkdir -p /data \
 && chown sleeve:sleeve /data

# The app is the installed package in /opt/venv (code and model); root owns it, read-only to the bot.
COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    DATA_DIR=/data \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# Settings also read ./.env: mount one at /app/.env, or pass --env-file.
WORKDIR /app
VOLUME ["/data"]
USER sleeve

HEALTHCHECK --interval=60s --timeout=15s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]

CMD ["python", "-m", "bot", "discord"]
