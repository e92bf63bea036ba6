"""One well-known data directory, whatever the current directory; a new database is announced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs

from keystore.config import Settings

BIN = os.path.join(os.path.dirname(sys.executable), "keyward")


def test_the_default_is_the_users_data_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    settings = Settings.from_env({"KEYWARD_PEPPER": "p" * 40})
    assert settings.data_dir == platformdirs.user_data_path("keyward")
    assert settings.data_dir == tmp_path / "xdg" / "keyward"
    assert settings.database_url == f"sqlite:///{tmp_path / 'xdg' / 'keyward' / 'keyward.db'}"
    explicit = Settings.from_env({"KEYWARD_DATA_DIR": str(tmp_path / "mine")})
    assert explicit.data_dir == tmp_path / "mine"


def keyward(home: Path, cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYWARD_")}
    env["XDG_DATA_HOME"] = str(home)
    done = subprocess.run(
        [BIN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == code, done.stdout + done.stderr
    return done


def test_commands_from_any_folder_share_one_database(tmp_path):
    home, first, second = tmp_path / "xdg", tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    created = keyward(home, first, "role", "create", "reader")
    database = home / "keyward" / "keyward.db"
    assert f"creating a new embedded database at {database}" in created.stderr
    elsewhere = keyward(home, second, "role", "show", "reader")
    assert "reader" in elsewhere.stdout
    assert "new embedded database" not in elsewhere.stderr
    assert list(first.iterdir()) == list(second.iterdir()) == []  # no ./keyward-data


def test_an_old_relative_data_directory_is_pointed_out(tmp_path):
    old = tmp_path / "project"
    (old / "keyward-data").mkdir(parents=True)
    (old / "keyward-data" / "keyward.db").write_bytes(b"")
    done = keyward(tmp_path / "xdg", old, "role", "list")
    assert "KEYWARD_DATA_DIR=./keyward-data" in done.stderr
