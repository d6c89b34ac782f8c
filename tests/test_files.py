"""Files are sacred: the state, the journal, its lock and the config are distinct files, a
folder is never renamed, a state file that cannot be read is left alone, two daemons never
share a journal (symlinks resolved), and what the daemon writes is its owner's only."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evse_rules.cli import main
from evse_rules.config import Config, load_config
from evse_rules.engine.journal import Journal
from evse_rules.engine.persist import SavedState, StateFile, StateFileError
from evse_rules.errors import ConfigError
from evse_rules.live import Daemon, FakeTime

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _setup(tmp_path: Path, lines: str = "") -> Path:
    (tmp_path / "r.evr").write_text("if mode is auto then start\n")
    config = tmp_path / "evse-rules.toml"
    config.write_text(f'rules = ["r.evr"]\n{lines}\n[chargers.garage]\ndriver = "simulated"\n'
                      'mode = "auto"\n')
    return config


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` and its content (None for folders and FIFOs)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def _dir(tmp: Path) -> None:
    (tmp / "data").mkdir()
    (tmp / "data" / "evse-rules.sqlite").write_bytes(b"journal inside")


def _link_to_config(tmp: Path) -> None:
    (tmp / "link.json").symlink_to(tmp / "evse-rules.toml")


def _hard_link_to_journal(tmp: Path) -> None:
    (tmp / "j.sqlite").write_bytes(b"")
    os.link(tmp / "j.sqlite", tmp / "h.json")


def _fifo(tmp: Path) -> None:
    os.mkfifo(tmp / "fifo")


def _nothing(tmp: Path) -> None:
    return None


# (config lines, what to create first, the key at fault, words of the message)
REFUSED: list[tuple[str, Callable[[Path], None], str, str]] = [
    ('state = "data"', _dir, "state", "is a folder, not a file"),
    ('state = "/"', _nothing, "state", "/ is a folder"),
    ('state = ""', _nothing, "state", "is a folder"),
    ('journal = "."', _nothing, "journal", "is a folder"),
    ('journal = "data"', _dir, "journal", "is a folder"),
    ('state = "evse-rules.toml"', _nothing, "state", "the config file"),
    ('state = "link.json"', _link_to_config, "state", "the config file"),
    ('state = "evse-rules.sqlite"', _nothing, "state", "the journal (journal)"),
    ('state = "evse-rules.sqlite.lock"', _nothing, "state", "lock file"),
    ('state = "evse-rules.sqlite-wal"', _nothing, "state", "-wal file"),
    ('state = "r.evr"', _nothing, "state", "the rule file"),
    ('journal = "evse-rules.toml"', _nothing, "journal", "the config file"),
    ('journal = "r.evr"', _nothing, "journal", "the rule file"),
    ('journal = "j.sqlite"\nstate = "h.json"', _hard_link_to_journal, "state", "the journal"),
    ('state = "evse-rules.toml/state.json"', _nothing, "state", "is not a folder"),
    # A FIFO of its own, not /dev/null: a daemon that wrongly renamed its state over it
    # would replace the machine's /dev/null with a file.
    ('state = "fifo"', _fifo, "state", "not a regular file"),
]


@pytest.mark.parametrize(("lines", "make", "key", "words"), REFUSED)
def test_check_refuses_files_the_daemon_would_destroy(
    tmp_path: Path, lines: str, make: Callable[[Path], None], key: str, words: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _setup(tmp_path, lines)
    make(tmp_path)
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f": {key}: error:" in err and words in err, err


@pytest.mark.parametrize(("lines", "make", "key", "words"), REFUSED)
def test_run_refuses_them_before_touching_anything(
    tmp_path: Path, lines: str, make: Callable[[Path], None], key: str, words: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _setup(tmp_path, lines)
    make(tmp_path)
    before = _snapshot(tmp_path)
    assert main(["run", "--config", str(config), "--ticks", "1"]) == 1
    err = capsys.readouterr().err
    assert f": {key}: error:" in err and words in err and "Traceback" not in err
    # Nothing renamed, nothing overwritten, nothing created (not even the lock).
    assert _snapshot(tmp_path) == before


def test_the_default_files_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _setup(tmp_path)
    assert main(["check", "--config", str(config)]) == 0
    load_config(config).check_files()


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    config = load_config(_setup(tmp_path, 'state = "/"\njournal = "evse-rules.toml"'))
    with pytest.raises(ConfigError) as info:
        config.check_files()
    keys = [line.split(": error:")[0] for line in str(info.value).splitlines()]
    assert keys == [f"{config.name}: state", f"{config.name}: journal"]


# -- the state file -----------------------------------------------------------------------

def _deep(depth: int) -> str:
    return '{"format": 1, "variables": {"x": ' + "[" * depth + "]" * depth + "}}"


@pytest.mark.parametrize(("content", "why"), [
    (_deep(100_000), "nested too deep"),
    ('{"format": 1, "variables": {"x": ' + "9" * 5000 + "}}", "digits"),
    ('{"format": 1, "variables": {"x": ' + "9" * 400 + "}}", "too large"),
    ('{"format": 1, "variables": {"x": 1e999}}', "not a finite number"),
    (b"\xff\xfe not text", "not UTF-8"),
])
def test_a_deep_or_huge_state_file_is_corrupt_not_a_crash(
    tmp_path: Path, content: str | bytes, why: str
) -> None:
    path = tmp_path / "state.json"
    data = content.encode() if isinstance(content, str) else content
    path.write_bytes(data)
    result = StateFile(path).load()
    assert result.state == SavedState()
    assert result.problem is not None and why in result.problem
    assert result.kept_as is not None and result.kept_as.name.startswith("state.json.corrupt-")
    assert result.kept_as.read_bytes() == data


def _unreadable(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Reading `path` is refused as for a file of another user (the tests may run as root,
    whom chmod 000 does not stop)."""
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def test_a_state_file_that_cannot_be_read_is_an_error_and_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    good = json.dumps({"format": 1, "modes": {"garage": "auto"}})
    path.write_text(good)
    path.chmod(0o000)
    _unreadable(monkeypatch, path)
    with pytest.raises(StateFileError) as info:
        StateFile(path).load()
    message = str(info.value)
    assert str(path) in message and "permission denied (mode 0000" in message
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    path.chmod(0o600)
    assert path.read_text() == good


def test_a_state_file_that_is_a_folder_is_an_error_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.mkdir()
    (path / "inside").write_text("kept")
    with pytest.raises(StateFileError, match="it is a folder"):
        StateFile(path).load()
    assert (path / "inside").read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_run_exits_1_on_an_unreadable_state_file_without_touching_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _setup(tmp_path)
    state = tmp_path / "evse-rules-state.json"
    state.write_text(json.dumps({"format": 1, "modes": {"garage": "manual"}}))
    before = state.read_bytes()
    _unreadable(monkeypatch, state)
    assert main(["run", "--config", str(config), "--ticks", "1"]) == 1
    err = capsys.readouterr().err
    assert str(state) in err and "permission denied" in err and "Traceback" not in err
    monkeypatch.undo()
    assert state.read_bytes() == before
    assert not any(p.name.startswith("evse-rules-state.json.") for p in tmp_path.iterdir())


# -- the lock -----------------------------------------------------------------------------

def _daemon(config: Config) -> Daemon:
    time = FakeTime(START)
    return Daemon(config, clock=time.clock, sleep=time.sleep, max_ticks=1)


@pytest.mark.parametrize("through", ["file", "folder"])
def test_two_daemons_on_one_journal_through_a_symlink_refuse(
    tmp_path: Path, through: str
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    first = load_config(_setup(one))
    Journal(first.journal_path).close()
    if through == "file":
        (two / "evse-rules.sqlite").symlink_to(first.journal_path)
    else:
        two.rmdir()
        two.symlink_to(one)
    second = load_config(_setup(tmp_path, 'journal = "two/evse-rules.sqlite"\n'
                                'state = "other-state.json"'))
    a, b = _daemon(first), _daemon(second)
    a._lock()
    try:
        with pytest.raises(ConfigError, match="another `evse-rules run` is already running"):
            b._lock()
    finally:
        assert a._lock_handle is not None
        a._lock_handle.close()


# -- modes --------------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_journal_state_and_lock_are_their_owners_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        config = load_config(_setup(tmp_path))
        await _daemon(config).run()
    finally:
        os.umask(old)
    for path in (config.journal_path, config.state_path, config.lock_path):
        assert path.exists() and _mode(path) == 0o600, path
    wal = config.journal_path.with_name(config.journal_path.name + "-wal")
    if wal.exists():
        assert _mode(wal) == 0o600
