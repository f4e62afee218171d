"""The training process: the app's Trainers run in a child process, so the window's Python never
shares a GIL (or a core) with training.

The child is spawned once per window and serves one training session at a time. Every message is
one of core.protocol's, in an Envelope naming its session: a Start command carries a TrainerSpec
(core.session); the child builds the Trainer (it alone imports torch), answers Started or
StartFailed (and keeps the previous session going on failure), then runs a TrainLoop (core.loop)
whose reports come back over a pipe (snapshots as Progress). Commands go in over another pipe and
are read between steps. The child runs one torch
thread at a lower priority than the window (a busy window slows training a little; training
never makes typing stutter). No Qt here: qt.training_hosts relays the reports as Qt signals.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

from rnnviz.core.errors import RnnvizError
from rnnviz.core.loop import TrainLoop
from rnnviz.core.protocol import (
    Cancel,
    Command,
    Envelope,
    Failed,
    Finished,
    Notice,
    Progress,
    Quit,
    Report,
    Start,
    Started,
    StartFailed,
    Stop,
)
from rnnviz.core.session import LabSpec
from rnnviz.core.snapshot import Snapshot

if TYPE_CHECKING:
    from rnnviz.core.lab_loop import LabLoop

NICE = 5  # the training process's priority below the window's


class TrainerProcess:
    """The child process and both ends of its pipes, as seen from the app.

    On POSIX the child is `python -m rnnviz.core.remote FD FD` with the pipes' ends inherited, so
    it never re-runs the app's main script (multiprocessing's spawn would); elsewhere it is a
    multiprocessing spawn. Commands are written by a thread of their own: a spec holds the corpus
    and the weights, more than a pipe buffers, and the child reads nothing while torch loads
    (measured: the window blocked 0.67 s at launch writing its first spec)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | BaseProcess
        if os.name == "posix":
            cmd_r, cmd_w = os.pipe()
            rep_r, rep_w = os.pipe()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rnnviz.core.remote", str(cmd_r), str(rep_w)], pass_fds=(cmd_r, rep_w)
            )
            os.close(cmd_r)
            os.close(rep_w)  # the child holds the only writing end: its exit ends the reports
            self._cmd, self.reports = Connection(cmd_w, readable=False), Connection(rep_r, writable=False)
        else:  # pragma: no cover - Windows
            ctx = mp.get_context("spawn")
            cmd_recv, self._cmd = ctx.Pipe(duplex=False)
            self.reports, rep_send = ctx.Pipe(duplex=False)
            child = ctx.Process(target=serve, args=(cmd_recv, rep_send), daemon=True)
            child.start()
            self.process = child
            cmd_recv.close()
            rep_send.close()
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write, name="rnnviz-trainer-commands", daemon=True)
        self._writer.start()

    def send(self, session: int, command: Command) -> None:
        """A command for a session (0: for the process), in order; never blocks the caller."""
        self._outbox.put(Envelope(session, command))

    def _write(self) -> None:
        while (command := self._outbox.get()) is not None:
            try:
                self._cmd.send(command)
            except (BrokenPipeError, OSError):
                return  # the process is gone: the reports have ended, and the app has been told

    def close(self, timeout: float = 2.0) -> None:
        """Ask the child to end; a step under way is not waited for beyond `timeout` (terminated)."""
        self.send(0, Quit())
        self._outbox.put(None)
        self._writer.join(timeout)
        if not _wait(self.process, timeout):
            self.process.terminate()
            if not _wait(self.process, 1.0):
                self.process.kill()  # a step that ignores SIGTERM: nothing of it is kept anyway
                _wait(self.process, 1.0)
        self._cmd.close()


def _wait(process, timeout: float) -> bool:
    """True once the child has ended (a Popen or a multiprocessing Process)."""
    if isinstance(process, subprocess.Popen):
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    process.join(timeout)
    return not process.is_alive()


def serve(commands: Connection, reports: Connection) -> None:
    """The child's main: sessions one after another until "quit" (or the app's end of the pipe closes)."""
    try:
        os.nice(NICE)
    except (AttributeError, OSError):
        pass
    import threading

    import torch

    torch.set_num_threads(1)  # measured here: 2 threads beside the window trained slower than 1
    # The first optimizer imports torch._dynamo (~1-2 s): do it while the app is still starting.
    threading.Thread(target=_import_dynamo, name="rnnviz-warm-up", daemon=True).start()
    _Server(commands, reports).serve()


def _import_dynamo() -> None:
    import torch._dynamo  # noqa: F401


class _Server:
    def __init__(self, commands: Connection, reports: Connection):
        self.commands, self.reports = commands, reports
        self.loop: TrainLoop | LabLoop | None = None
        self.session = 0
        self.pending: tuple[int, TrainLoop | LabLoop] | None = None  # built, to run once the current ends
        self.requested: tuple[int, Start] | None = None  # a start read, built once the commands are read
        self.quitting = False
        self._sent_weights: dict | None = None

    def send(self, session: int, report: Report) -> None:
        if isinstance(report, Snapshot):
            report = self._lighten(report)
        self.reports.send(Envelope(session, report))

    def _lighten(self, snap: Snapshot) -> Progress:
        """A snapshot whose weights were sent before travels without them: the app's end keeps
        the last weights it received (qt.training_hosts.RemoteTrainWorker)."""
        fresh = snap.weights is not self._sent_weights
        self._sent_weights = snap.weights
        return Progress.of(snap, with_weights=fresh)

    def serve(self) -> None:
        while not self.quitting:
            if self.pending is None:
                self._poll(None)  # nothing to run: wait for a command
                continue
            self.session, self.loop = self.pending
            self.pending = None
            try:
                self.loop.run(poll=self._poll)
            except (BrokenPipeError, ConnectionResetError, EOFError):
                return  # the app has gone (its end of the pipe closed): nobody to report to
            except Exception as exc:  # noqa: BLE001 - a bug must not end the process: say so, go on
                try:
                    self.send(self.session, Failed(f"training stopped: {type(exc).__name__}: {exc}"))
                    self.send(self.session, Finished())
                except OSError:
                    return
            self.loop = None

    def _poll(self, timeout: float | None) -> None:
        """Carry out every command waiting; wait up to `timeout` s (None: forever) for the first.
        A start is carried out once every command waiting has been read: a later start, or the
        app's cancel, replaces it before anything is built."""
        try:
            while self.commands.poll(timeout):
                envelope = self.commands.recv()
                self._dispatch(envelope.session, envelope.message)
                timeout = 0
        except (EOFError, OSError):  # the app has gone
            self._quit()
            return
        if self.requested is not None and not self.quitting:
            (session, start), self.requested = self.requested, None
            self._start(session, start)

    def _quit(self) -> None:
        self.quitting = True
        if self.loop is not None:
            self.loop.stop()

    def _dispatch(self, session: int, command: Command) -> None:
        match command:
            case Quit():
                self._quit()
                return
            case Start():
                if self.requested is not None:  # never built: a later start replaces it
                    self.send(self.requested[0], Finished())
                self.requested = (session, command)
                return
            case Cancel():  # the app gave up waiting for this start
                if self.requested is not None and self.requested[0] == session:
                    self.requested = None
                    self.send(session, Finished())
                elif self.pending is not None and self.pending[0] == session:
                    self.pending = None
                    self.send(session, Finished())
                command = Stop()
        if self.requested is not None and self.requested[0] == session:  # a command for it: build it now
            (_, start), self.requested = self.requested, None
            self._start(session, start)
        loop = self._loop_of(session)
        if loop is not None:  # else for a session that has ended (or never started)
            loop.command(command)

    def _loop_of(self, session: int) -> TrainLoop | LabLoop | None:
        """The running session's loop, or the one built and about to run."""
        if self.pending is not None and self.pending[0] == session:
            return self.pending[1]
        return self.loop if session == self.session else None

    def _start(self, session: int, start: Start) -> None:
        """Build the new session's trainer (or the lab's three); on success it replaces the
        current session."""
        try:
            built = start.spec.build()
        except Exception as exc:  # noqa: BLE001 - the app says so; the current session goes on
            msg = str(exc) if isinstance(exc, RnnvizError) else f"{type(exc).__name__}: {exc}"
            self.send(session, StartFailed(msg))
            return

        def emit(report: Report, session=session) -> None:
            self.send(session, report)

        if isinstance(start.spec, LabSpec):
            from rnnviz.core.lab_loop import LabLoop

            self.send(session, Started.of(next(iter(built.trainers.values()))))
            self._replace((session, LabLoop(built, emit, start.spec.measure_every)))
            return
        from rnnviz.core.scoring import preset_monitor

        monitor, why_not = preset_monitor(built)
        if why_not:
            self.send(session, Notice(why_not))
        self.send(session, Started.of(built))
        every = monitor.every if monitor is not None else 0.5
        self._replace((session, TrainLoop(built, emit, start.eval_every, start.budget, monitor, every)))

    def _replace(self, pending: tuple[int, TrainLoop | LabLoop]) -> None:
        """The built session runs once the current one has ended."""
        self.pending = pending
        if self.loop is not None:
            self.loop.stop()


if __name__ == "__main__":  # the child, started by TrainerProcess
    serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
