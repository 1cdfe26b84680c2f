"""Static checks of the Dockerfile and .dockerignore (no Docker engine needed).

The image is built from the project's own files: a builder stage pip-installs the project into
/opt/venv, and the final stage copies that venv and runs the Discord bot as a non-root user with
its data on a volume.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

HEAVY_PACKAGES = {"torch", "torchvision", "torchaudio", "tensorflow", "tensorflow-cpu", "jax", "keras"}
COMPILERS = {"build-essential", "gcc", "g++", "clang", "make", "cmake", "python3-dev"}


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [ins for ins in self.instructions if ins.keyword == keyword]

    def index(self, keyword: str) -> int:
        """Position of the last `keyword` instruction in this stage."""
        positions = [i for i, ins in enumerate(self.instructions) if ins.keyword == keyword]
        assert positions, f"final stage has no {keyword}"
        return positions[-1]


def _instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    result: list[Instruction] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            keyword, _, args = current.strip().partition(" ")
            result.append(Instruction(keyword.upper(), args.strip()))
        current = ""
    assert not current, "Dockerfile ends inside a continued line"
    return result


def _stages(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for ins in _instructions(text):
        if ins.keyword == "FROM":
            parts = [part for part in ins.args.split() if not part.startswith("--")]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            assert stages, f"{ins.keyword} before the first FROM"
            stages[-1].instructions.append(ins)
    return stages


def _exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) argument list; shell form is split like a shell would."""
    args = args.strip()
    if args.startswith("["):
        value = json.loads(args)
        assert isinstance(value, list) and all(isinstance(item, str) for item in value)
        return value
    return shlex.split(args)


def _env(stage: Stage) -> dict[str, str]:
    """ENV values set in a stage (both `ENV K=V K2=V2` and the legacy `ENV K V`)."""
    values: dict[str, str] = {}
    for ins in stage.all("ENV"):
        tokens = shlex.split(ins.args)
        if tokens and "=" not in tokens[0]:
            values[tokens[0]] = " ".join(tokens[1:])
            continue
        for token in tokens:
            key, _, value = token.partition("=")
            values[key] = value
    return values


def _copy_sources(ins: Instruction) -> tuple[list[str], bool]:
    """(sources, from_another_stage) of a COPY or ADD."""
    tokens = _exec_form(ins.args) if ins.args.startswith("[") else shlex.split(ins.args)
    from_stage = any(token.startswith("--from") for token in tokens)
    paths = [token for token in tokens if not token.startswith("--")]
    return paths[:-1], from_stage


def _dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per .dockerignore line, following Docker's rules closely enough for tests:
    a leading / is dropped, * and ? do not cross /, ** crosses any number of directories."""
    patterns = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = line.lstrip("!").strip().strip("/")
        regex = ""
        i = 0
        while i < len(line):
            if line.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif line.startswith("**", i):
                regex += ".*"
                i += 2
            elif line[i] == "*":
                regex += "[^/]*"
                i += 1
            elif line[i] == "?":
                regex += "[^/]"
                i += 1
            elif line[i] == "[":
                end = line.index("]", i)
                regex += line[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(line[i])
                i += 1
        patterns.append((negated, re.compile(regex + r"\Z")))
    return patterns


def _ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative, with /) out of the build context."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in _dockerignore_patterns():
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    assert DOCKERFILE.is_file(), "no Dockerfile at the repository root"
    result = _stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert result, "Dockerfile has no FROM"
    return result


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def test_multi_stage_with_the_same_slim_python_base(stages: list[Stage]) -> None:
    assert len(stages) >= 2, "expected a builder stage and a final stage"
    for stage in stages:
        match = re.fullmatch(r"(?:docker\.io/)?(?:library/)?python:(\d+)\.(\d+)(?:\.\d+)?-slim(?:-[a-z]+)?", stage.base)
        assert match, f"base image {stage.base!r} is not a pinned python:3.X-slim image"
        assert (int(match[1]), int(match[2])) >= (3, 11), f"{stage.base}: the project needs Python >= 3.11"
    assert stages[-1].base == stages[0].base, "builder and final stages should share the base image"


def test_final_stage_runs_as_a_non_root_user_before_cmd(final: Stage) -> None:
    user = final.all("USER")
    assert user, "final stage never leaves root"
    name = user[-1].args.split(":")[0].strip()
    assert name not in {"root", "0", ""}, f"final USER is {name!r}"
    assert final.index("USER") < final.index("CMD"), "USER must come before CMD"
    # A named user must be created in this stage.
    if not name.isdigit():
        created = " ".join(ins.args for ins in final.all("RUN"))
        assert re.search(rf"\b(useradd|adduser)\b[^&;]*\b{re.escape(name)}\b", created), f"user {name} is never created"


def test_data_dir_is_a_volume_owned_by_the_user(final: Stage) -> None:
    env = _env(final)
    assert "DATA_DIR" in env, "final stage does not set DATA_DIR"
    data_dir = env["DATA_DIR"].rstrip("/")
    volumes = [path.rstrip("/") for ins in final.all("VOLUME") for path in _exec_form(ins.args)]
    assert data_dir in volumes, f"DATA_DIR={data_dir} is not a VOLUME ({volumes})"
    # Ownership must be set before VOLUME: changes to a volume path after it is declared are discarded.
    volume_at = min(i for i, ins in enumerate(final.instructions) if ins.keyword == "VOLUME")
    before = " ".join(ins.args for ins in final.instructions[:volume_at] if ins.keyword == "RUN")
    assert re.search(rf"chown\b[^&;]*\s{re.escape(data_dir)}\b", before), f"{data_dir} is not chowned before VOLUME"
    assert env.get("PYTHONUNBUFFERED") == "1"


def test_healthcheck_is_present_and_offline(final: Stage) -> None:
    checks = final.all("HEALTHCHECK")
    assert checks, "final stage has no HEALTHCHECK"
    args = checks[-1].args
    assert not args.upper().startswith("NONE")
    command = args[args.upper().index("CMD") + 3 :]
    assert _exec_form(command)[:3] == ["python", "-m", "bot"], f"unexpected healthcheck {command!r}"
    assert not re.search(r"curl|wget|http", command), "the healthcheck should not need the network"


def test_cmd_runs_the_discord_bot(final: Stage) -> None:
    cmds = final.all("CMD")
    assert cmds, "final stage has no CMD"
    assert cmds[-1].args.startswith("["), "CMD should use the exec form so signals reach Python"
    assert _exec_form(cmds[-1].args) == ["python", "-m", "bot", "discord"]
    assert not final.all("ENTRYPOINT"), "an ENTRYPOINT would change what CMD runs"


def test_no_heavy_frameworks_in_requirements(pyproject: dict) -> None:
    deps = list(pyproject["project"]["dependencies"])
    names = {re.split(r"[\s\[<>=!~;]", dep, maxsplit=1)[0].lower().replace("_", "-") for dep in deps}
    assert not names & HEAVY_PACKAGES, f"runtime dependencies include {sorted(names & HEAVY_PACKAGES)}"


def test_pip_installs_only_the_project(stages: list[Stage]) -> None:
    installs = []
    for stage in stages:
        for ins in stage.all("RUN"):
            for command in re.split(r"&&|;|\|\|", ins.args):
                tokens = shlex.split(command)
                for i in range(len(tokens) - 1):
                    if tokens[i].endswith("pip") and tokens[i + 1] == "install":
                        installs.append(tokens[i + 2 :])
                    elif tokens[i] == "-m" and tokens[i + 1] == "pip" and tokens[i + 2 : i + 3] == ["install"]:
                        installs.append(tokens[i + 3 :])
    assert installs, "the Dockerfile never pip-installs the project"
    for args in installs:
        for flag in ("-r", "--requirement", "--constraint", "-e", "--editable"):
            assert flag not in args, f"pip install {' '.join(args)}: only the project itself should be installed"
        # The one constraint file pins versions (it installs nothing by itself).
        assert args.count("-c") == 1 and args[args.index("-c") + 1] == "constraints.txt", \
            f"pip install {' '.join(args)}: should install within constraints.txt"
        args = args[:args.index("-c")] + args[args.index("-c") + 2:]
        targets = [arg for arg in args if not arg.startswith("-")]
        assert targets == ["."], f"pip install {' '.join(args)}: installs more than the project"
    text = DOCKERFILE.read_text(encoding="utf-8").lower()
    for name in HEAVY_PACKAGES:
        assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"Dockerfile mentions {name}"


def test_final_stage_has_no_compilers(final: Stage) -> None:
    runs = " ".join(ins.args for ins in final.all("RUN"))
    for package in COMPILERS:
        assert not re.search(rf"(?<![\w+-]){re.escape(package)}(?![\w+-])", runs), f"final stage installs {package}"
    sources = [src for ins in final.all("COPY") + final.all("ADD") for src in _copy_sources(ins)[0]]
    assert "/opt/venv" in sources, "final stage does not copy the builder's venv"


def test_copied_files_exist_and_are_not_dockerignored(stages: list[Stage]) -> None:
    copied = []
    for stage in stages:
        assert not stage.all("ADD"), "use COPY, not ADD"
        for ins in stage.all("COPY"):
            sources, from_stage = _copy_sources(ins)
            if from_stage:
                continue
            for source in sources:
                assert not any(ch in source for ch in "*?["), f"COPY {source}: name files explicitly"
                path = ROOT / source
                assert path.exists(), f"COPY {source}: no such file in the repository"
                assert not _ignored(source), f"COPY {source}: excluded by .dockerignore"
                copied.append(path)
    files = [p for c in copied for p in ([c] if c.is_file() else c.rglob("*")) if p.is_file()]
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if "__pycache__" in relative or path.suffix == ".pyc":
            continue
        assert not _ignored(relative), f"{relative} is excluded by .dockerignore but the image needs it"


def test_the_image_gets_everything_pip_needs(stages: list[Stage], pyproject: dict) -> None:
    copied = {
        source.rstrip("/")
        for stage in stages
        for ins in stage.all("COPY")
        if not _copy_sources(ins)[1]
        for source in _copy_sources(ins)[0]
    }
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert needed <= copied, f"the builder does not copy {sorted(needed - copied)}"
    assert "tests" not in copied


def test_shipped_model_files_are_package_data(pyproject: dict) -> None:
    """The image runs the installed package, so every committed model file must be package data."""
    patterns = pyproject["tool"]["setuptools"]["package-data"]["models"]
    package = ROOT / "models"
    included = {Path(match) for pattern in patterns for match in glob.glob(pattern, root_dir=package)}
    shipped = [
        path.relative_to(package)
        for folder in ("artifacts", "embedder")
        for path in (package / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert shipped, "no model files under models/artifacts or models/embedder"
    missing = sorted(str(path) for path in shipped if path not in included)
    assert not missing, f"not installed by pip (add to [tool.setuptools.package-data].models): {missing}"


def test_dockerignore_keeps_secrets_data_and_clutter_out() -> None:
    assert DOCKERIGNORE.is_file(), "no .dockerignore"
    for path in (".env", ".env.local", "data", "data/sleeve.db", "sleeve.db", "tests/test_x.py", ".git/HEAD",
                 ".venv/bin/python", ".venv-export/x", ".cache/x", "bot/__pycache__/x.pyc", "benchmarks/x.py"):
        assert _ignored(path), f".dockerignore lets {path} into the build context"
    for path in ("pyproject.toml", "README.md", "bot/settings.py", "models/artifacts/base/manifest.json"):
        assert not _ignored(path), f".dockerignore excludes {path}"
