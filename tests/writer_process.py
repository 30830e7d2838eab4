"""A forking test process (``tests/live_writer.py``, ``tests/journal_writer.py``): it imports and warms up once,
forks a process per command, and speaks in ``@`` lines, read here on a thread so that a wait can time out."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path


class Writer:
    """The forking process and its protocol lines (``@...``), read on a thread so a wait can time out."""

    def __init__(self, script: Path, args: list[str], log: Path) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(script.parents[1]), os.environ.get("PYTHONPATH", "")])}
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith("@"):
                self.lines.put(line[1:].strip())

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, word: str, timeout: float = 60.0) -> list[str]:
        line = self.lines.get(timeout=timeout)
        assert line.split()[0] == word, line
        return line.split(maxsplit=2)[1:]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.log.close()
