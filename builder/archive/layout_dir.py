"""An OCI image layout written as a directory (`-o type=oci,tar=false,dest=DIR`): the same
entries archive.save puts in its tar, each written as a file under DIR through runtime.tree,
so a link already standing in DIR (or named by nothing we write) is replaced, never followed.
index.json is written last: a layout whose index is there is complete."""

from __future__ import annotations

import os
import stat

from runtime import tree
from runtime.tree import Tree

from ..errors import CairnError


def _Counter(f):  # noqa: N802 - archive's byte counter, imported late (archive imports this module)
    from .save import _Counter

    return _Counter(f)


class LayoutDirOut:
    """The add_dir/add_bytes/add_stream/close interface of archive's tar writer, on a directory."""

    def __init__(self, dest: str):
        self.dest = dest
        try:
            os.makedirs(dest, exist_ok=True)
            self.tree = Tree(dest)
        except OSError as err:
            raise CairnError(f"-o type=oci,tar=false,dest={dest}: cannot make the directory: {err.strerror}") from None
        self.names: set[str] = set()

    def __enter__(self) -> "LayoutDirOut":
        return self

    def __exit__(self, *exc) -> None:
        self.tree.close()

    def add_dir(self, name: str) -> None:
        os.close(self.tree.makedirs(name.rstrip("/")))

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_stream(name, len(data), lambda out: out.write(data))

    def add_stream(self, name: str, size: int, write) -> None:
        if name in self.names:
            return
        self.names.add(name)
        dfd, base = self.tree.parent(name, create=True)
        try:
            tmp = f".{base}.partial"
            fd = tree.new_file(dfd, tmp, 0o644)
            with os.fdopen(fd, "wb", buffering=1 << 20) as f:
                written = _Counter(f)
                write(written)
            if written.size != size:
                raise CairnError(f"{self.dest}/{name}: wrote {written.size} bytes, expected {size}")
            try:
                os.rename(tmp, base, src_dir_fd=dfd, dst_dir_fd=dfd)  # a file or link there is replaced
            except (IsADirectoryError, FileExistsError, OSError):
                if not stat.S_ISDIR(os.stat(base, dir_fd=dfd, follow_symlinks=False).st_mode):
                    raise
                tree.remove(dfd, base)  # a directory standing there: removed, never entered through a link
                os.rename(tmp, base, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError as err:
            raise CairnError(f"-o type=oci,tar=false,dest={self.dest}: cannot write {name}: {err.strerror}") from None
        finally:
            os.close(dfd)

    def close(self) -> None:
        pass
