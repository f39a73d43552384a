"""One service (``newswire <name>``, or another module's) as a child process with its output in a log file."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServiceProcess:
    """``name`` is the service to run; ``label`` tells replicas apart (``tagger#1``). Restartable:
    each start appends to the same log."""

    name: str
    env: Mapping[str, str]
    log_path: Path
    label: str = ""
    module: str = "services.cli"  # run as ``python -m <module> <name>`` (the bench runs its own)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def __post_init__(self) -> None:
        self.label = self.label or self.name

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
                [sys.executable, "-m", self.module, self.name],
                env=dict(self.env),
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signum)

    def terminate(self) -> None:
        """Ask it to shut down; a SIGSTOPped process must be continued first or it never sees SIGTERM."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)

    def wait(self, timeout: float = 20.0) -> int | None:
        """Its exit code, killing it when it has not exited within ``timeout``; None if never started."""
        process = self.process
        if process is None:
            return None
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def stop(self, timeout: float = 20.0) -> int | None:
        self.terminate()
        return self.wait(timeout)

    def kill(self) -> None:
        """``kill -9``, as a crash would; waits for that very process (a supervisor may start another)."""
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
