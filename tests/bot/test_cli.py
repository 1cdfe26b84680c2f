"""`python -m bot`: help, predict, and starting front ends (with stand-in modules)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from bot import cli
from bot.service import Service
from tests.bot.fake_spotify import COVERS
from tests.bot.test_console import run_bot

PREDICTION_KEYS = {"genres", "popularity", "tags", "distinctive_tags", "model_version", "text", "read_words"}


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_bot(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("console", "predict", "discord", "telegram", "sync-commands", "healthcheck"):
        assert f"    {command}" in result.stdout
    assert "python -m bot discord telegram" in result.stdout


def test_predict_json(tmp_path: Path, spotify_dir: Path, predictor) -> None:
    result = run_bot(tmp_path, "predict", str(spotify_dir / "images" / COVERS[0]), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == PREDICTION_KEYS
    assert [set(g) for g in data["genres"]] == [{"genre", "probability"}] * len(predictor.genres)
    assert sum(g["probability"] for g in data["genres"]) == pytest.approx(1, abs=1e-3)
    assert {"value", "low", "high"} <= set(data["popularity"])
    assert all(set(t) == {"tag", "score"} for t in data["tags"])
    assert data["model_version"] == predictor.version
    expected = predictor.predict((spotify_dir / "images" / COVERS[0]).read_bytes()).to_dict()
    assert data == json.loads(json.dumps(expected))


def test_predict_several_paths_prints_one_json_object_per_line(tmp_path: Path, spotify_dir: Path, predictor) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_text("not a cover")
    paths = [spotify_dir / "images" / COVERS[0], junk, spotify_dir / "images" / COVERS[1]]
    result = run_bot(tmp_path, "predict", *map(str, paths), "--json")
    assert result.returncode == 1  # one bad path fails the run, the others are still judged
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    objects = [json.loads(line) for line in lines]
    assert [o["path"] for o in objects] == [str(paths[0]), str(paths[2])]
    for path, data in zip([paths[0], paths[2]], objects):
        assert isinstance(data["text"], str)
        assert {k: v for k, v in data.items() if k != "path"} == json.loads(json.dumps(predictor.predict(path.read_bytes()).to_dict()))
    assert "junk.jpg: That doesn't look like an image" in result.stderr


def test_predict_reads_the_cover(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    cover = Image.new("RGB", (600, 600), "white")
    ImageDraw.Draw(cover).text((40, 250), "GREATEST HITS", fill="black", font_size=70)
    path = tmp_path / "hits.png"
    cover.save(path)
    result = run_bot(tmp_path, "predict", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert "GREATEST" in json.loads(result.stdout)["text"].upper()


def test_predict_several_paths_as_text(tmp_path: Path, spotify_dir: Path) -> None:
    result = run_bot(tmp_path, "predict", *(str(spotify_dir / "images" / c) for c in COVERS[:2]))
    assert result.returncode == 0, result.stderr
    for cover in COVERS[:2]:
        assert cover in result.stdout


def test_predict_refuses_a_bad_image(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_text("not a cover")
    result = run_bot(tmp_path, "predict", str(junk))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "junk.jpg: That doesn't look like an image" in result.stderr
    assert "Traceback" not in result.stderr


def test_predict_missing_file_in_process(clean_env: Path, capsys) -> None:
    assert cli.main(["predict", str(clean_env / "nope.png")]) == 1
    assert capsys.readouterr().err == f"{clean_env / 'nope.png'}: There's no such file.\n"


@pytest.mark.parametrize(
    ("argv", "command", "also"),
    [
        (["discord"], "discord", None),
        (["discord", "telegram"], "discord", "telegram"),
        (["telegram", "discord"], "telegram", "discord"),
    ],
)
def test_front_ends_parse(argv: list[str], command: str, also: str | None) -> None:
    args = cli.build_parser().parse_args(argv)
    assert (args.command, args.also) == (command, also)


def test_same_front_end_twice_is_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["discord", "discord"])


# --- starting front ends -------------------------------------------------------------------------------


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("DISCORD_TOKEN", "TELEGRAM_TOKEN", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(cli, "configure_logging", lambda *args, **kwargs: None)
    return tmp_path


def stand_in(monkeypatch, name: str, **functions) -> None:
    module = types.ModuleType(name)
    for key, value in functions.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_missing_front_end_module_is_explained(clean_env, monkeypatch, capsys) -> None:
    monkeypatch.setitem(cli.FRONT_ENDS, "discord", "bot.no_such_front_end")
    assert cli.main(["discord"]) == cli.EXIT_CONFIG
    assert "The Discord front end is not part of this build" in capsys.readouterr().err


def test_missing_token_is_explained(clean_env, monkeypatch, capsys) -> None:
    stand_in(monkeypatch, "bot.discord_app", serve=None)
    assert cli.main(["discord"]) == cli.EXIT_CONFIG
    assert "DISCORD_TOKEN is not set" in capsys.readouterr().err


def test_both_front_ends_share_one_service(clean_env, monkeypatch, predictor) -> None:
    served: dict[str, Service] = {}

    def serving(name: str):
        async def serve(service: Service, settings) -> None:
            served[name] = service

        return serve

    stand_in(monkeypatch, "bot.discord_app", serve=serving("discord"))
    stand_in(monkeypatch, "bot.telegram_app", serve=serving("telegram"))
    monkeypatch.setattr("bot.service.factory.load_predictor", lambda settings: predictor)
    monkeypatch.setenv("DISCORD_TOKEN", "discord-token")
    monkeypatch.setenv("TELEGRAM_TOKEN", "telegram-token")
    assert cli.main(["discord", "telegram"]) == 0
    assert set(served) == {"discord", "telegram"}
    assert served["discord"] is served["telegram"]
    assert (clean_env / "data" / "sleeve.db").is_file()


def test_sync_commands(clean_env, monkeypatch) -> None:
    calls = []

    async def sync_commands(settings) -> None:
        calls.append(settings.DISCORD_TOKEN.get_secret_value())

    stand_in(monkeypatch, "bot.discord_app", sync_commands=sync_commands)
    monkeypatch.setenv("DISCORD_TOKEN", "discord-token")
    assert cli.main(["sync-commands"]) == 0
    assert calls == ["discord-token"]


def test_model_directory(clean_env: Path, monkeypatch) -> None:
    from bot.service import model_directory
    from bot.settings import load_settings
    from models.artifact import SHIPPED_DIR

    assert model_directory(load_settings(_env_file=None)) == SHIPPED_DIR
    monkeypatch.setenv("MODEL_DIR", str(clean_env / "mine"))
    assert model_directory(load_settings(_env_file=None)) == clean_env / "mine"


def test_healthcheck(clean_env: Path, capsys) -> None:
    assert cli.main(["healthcheck"]) == 0
    assert capsys.readouterr().out.startswith("ok: model ")
    assert (clean_env / "data" / "sleeve.db").is_file()


def test_healthcheck_fails_on_a_broken_data_dir(clean_env: Path, monkeypatch, capsys) -> None:
    (clean_env / "file").write_text("not a folder")
    monkeypatch.setenv("DATA_DIR", str(clean_env / "file"))
    assert cli.main(["healthcheck"]) == 1
    assert capsys.readouterr().err.startswith("unhealthy: ")


def test_predict_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """`predict cover.png | head -1`: the reader leaves early; no BrokenPipeError traceback, rc 0."""
    import subprocess

    from PIL import Image

    from tests.bot.test_console import bot_env

    cover = tmp_path / "cover.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(cover)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "predict", str(cover)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=bot_env(tmp_path),
    )
    proc.stdout.close()  # gone before a single byte is written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_predict_honours_image_max_bytes(tmp_path: Path) -> None:
    from PIL import Image

    from tests.bot.test_console import bot_env

    cover = tmp_path / "cover.png"
    Image.effect_noise((64, 64), 50).save(cover)
    assert cover.stat().st_size > 1000
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "bot", "predict", str(cover)],
        capture_output=True, text=True, cwd=tmp_path, env=bot_env(tmp_path) | {"IMAGE_MAX_BYTES": "1000"}, timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr == f"{cover}: That image is bigger than 1000 bytes.\n"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_predict_refuses_devices(clean_env: Path, capsys) -> None:
    assert cli.main(["predict", "/dev/zero"]) == 1
    assert "not a regular file" in capsys.readouterr().err


def test_data_dir_that_is_a_file_is_named(clean_env: Path, monkeypatch, capsys) -> None:
    (clean_env / "taken").write_text("")
    monkeypatch.setenv("DATA_DIR", str(clean_env / "taken"))
    assert cli.main(["console"]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert err == f"DATA_DIR {clean_env / 'taken'} is a file, not a folder: point DATA_DIR at a folder.\n"


def test_corrupt_database_is_named(clean_env: Path, capsys) -> None:
    (clean_env / "data").mkdir()
    (clean_env / "data" / "sleeve.db").write_bytes(b"this is not sqlite" * 100)
    assert cli.main(["console"]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith(f"The database {clean_env / 'data' / 'sleeve.db'} can't be opened (file is not a database).")
    assert "Traceback" not in err


def test_a_model_from_another_scikit_learn_is_named_not_a_traceback(clean_env: Path, monkeypatch, capsys) -> None:
    import shutil

    from models import artifact

    model = clean_env / "old-model"
    shutil.copytree(artifact.SHIPPED_DIR, model)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["libraries"]["scikit-learn"] = "0.24.2"
    (model / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("MODEL_DIR", str(model))
    cover = clean_env / "cover.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (10, 20, 30)).save(cover)
    assert cli.main(["predict", str(cover)]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith("The model can't be loaded: model ") and "scikit-learn 0.24.2" in err
def _model_with_lifts(directory: Path) -> Path:
    directory.mkdir()
    (directory / "manifest.json").write_text(json.dumps({"version": "v-tags", "genres": ["Pop", "Rock"]}))
    (directory / "tags.json").write_text(json.dumps({"vocabulary": ["skull", "pastel", "dark"], "distinctive": {
        "Pop": [{"tag": "pastel", "lift": 2.2, "share": 0.31, "support": 40}],
        "Rock": [{"tag": "skull", "lift": 3.1, "share": 0.12, "support": 18}, "dark"],
    }}))
    return directory


def test_tags_json_shape(clean_env: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MODEL_DIR", str(_model_with_lifts(clean_env / "model")))
    assert cli.main(["tags", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"genres", "model_version"} and data["model_version"] == "v-tags"
    assert data["genres"]["Rock"] == [{"tag": "skull", "lift": 3.1, "share": 0.12},
                                      {"tag": "dark", "lift": None, "share": None}]  # an older plain entry
    assert all(set(t) == {"tag", "lift", "share"} for tags in data["genres"].values() for t in tags)


def test_tags_for_one_genre_as_text_and_an_unknown_genre(clean_env: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MODEL_DIR", str(_model_with_lifts(clean_env / "model")))
    assert cli.main(["tags", "rock"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "Rock: skull ×3.1, dark"
    assert cli.main(["tags", "Jazz"]) == cli.EXIT_BAD_INPUT
    assert "I don't know the genre 'Jazz'" in capsys.readouterr().err


def test_tags_json_on_the_shipped_model(clean_env: Path, capsys) -> None:
    assert cli.main(["tags", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["genres"]) == {"Country", "Electronic", "HipHop", "Pop", "Rock"}


def test_a_retired_setting_is_warned_about_once_at_start(clean_env: Path, monkeypatch, caplog) -> None:
    (clean_env / ".env").write_text("RETRAIN_TOLERANCE=1.0\n", encoding="utf-8")
    monkeypatch.setattr(cli, "sync_commands", lambda settings: 0)
    with caplog.at_level("WARNING"):
        assert cli.main(["sync-commands"]) == 0
    [record] = [r for r in caplog.records if "RETRAIN_TOLERANCE" in r.getMessage()]
    assert record.levelname == "WARNING" and "RETRAIN_ALPHA" in record.getMessage()
