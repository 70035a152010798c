"""``sosbot demo`` as a real process: it prints the URL, serves the page and
stops cleanly on Ctrl-C (SIGINT), erasing the temporary folder it made."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

URL = re.compile(r"open (http://127\.0\.0\.1:(\d+)/)")


@contextmanager
def sosbot_demo(folder: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``sosbot demo --port 0 ARGS`` with its temporary folders under ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOSBOT_")}
    env["TMPDIR"] = str(folder)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--port", "0", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        for line in process.stdout:
            found = URL.search(line)
            if found:
                yield process, found.group(1)
                break
            assert time.monotonic() < deadline, "no URL printed"
        else:
            raise AssertionError(f"sosbot demo exited with {process.wait()}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[str]) -> str:
    """Ctrl-C, then what it printed until it exited (code 0)."""
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    return out


def test_demo_serves_the_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    with sosbot_demo(tmp_path) as (process, url):
        assert list(tmp_path.glob("sosbot-demo-*"))
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"sosbot demo" in response.read()
        out = stop(process)
    assert "stopping" in out
    for trouble in ("Traceback", "ERROR", "Task was destroyed", "Unclosed", "never awaited"):
        assert trouble not in out
    assert not list(tmp_path.glob("sosbot-demo-*")), "the temporary folder is left behind"


def test_a_data_folder_is_kept_and_used_again(tmp_path: Path) -> None:
    data = tmp_path / "playground"
    with sosbot_demo(tmp_path, "--data", str(data)) as (process, _):
        stop(process)
    key = data / "master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (data / "sosbot.db").exists() and (data / "demo-clock.txt").exists()
    first_key = key.read_bytes()
    with sosbot_demo(tmp_path, "--data", str(data)) as (process, _):
        stop(process)
    assert key.read_bytes() == first_key


def test_a_folder_that_is_not_the_demos_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "data"
    real.mkdir()
    (real / "sosbot.db").write_bytes(b"a network's database")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--port", "0", "--data", str(real)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "is not a demo folder" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in real.iterdir()) == ["sosbot.db"]


def test_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot", "demo", "--port", str(port)],
            cwd=tmp_path,
            env={**os.environ, "TMPDIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"demo: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("sosbot-demo-*"))
