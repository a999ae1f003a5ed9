"""POST /build?cairnprogress=1: the cairn CLI's own remote build (remote_build.py). The same
child `cairn build --progress json` as docker's classic stream (build_run.py), but its events
go to the client as they are ({"cairn": EVENT}), with the CLI's own error lines
({"cairnstderr": LINE}) and its exit status ({"cairnexit": CODE}), so that the client prints
what a local `cairn build` prints and exits as it exits."""

from __future__ import annotations

import json

from .build_run import MAX_EVENT, BuildRun
from .jsonstream import message


class RawBuildRun(BuildRun):
    _emit = None
    _said_exit = False

    def _relay(self, emit) -> tuple[str, int]:
        self._emit = emit
        for raw in iter(lambda: self.proc.stderr.readline(MAX_EVENT), b""):
            try:
                event = json.loads(raw)
                event["type"]
            except (ValueError, TypeError, KeyError):
                emit(message(cairnstderr=raw.decode("utf-8", "replace").rstrip("\n")))
                continue
            emit(message(cairn=event))
        return "the build failed", 1

    def _finish(self) -> int:
        code = super()._finish()
        if self._emit is not None and not self._said_exit:
            self._said_exit = True
            self._emit(message(cairnexit=code))
        return code

    def _succeeded(self, emit) -> None:
        from pathlib import Path

        try:
            image_id = Path(self.here, "iid").read_text().strip()
        except OSError:
            return
        emit(message(aux={"ID": image_id}))
