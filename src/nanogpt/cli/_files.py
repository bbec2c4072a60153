"""Private files: how the command line creates, checks, locks and writes what it keeps.

Another local user must not be able to steer this program through its files: a config that
points ``base_url`` at their port receives the key; a cache that prices a model at 0 picks
the default model. So, whatever the umask:

* directories are created 0700 and files 0600;
* a config or cache directory or file that another user owns, or that group or others can
  write (the key file: read either), is refused with one line saying how to fix it, as ssh
  refuses such files (root-owned is fine: root can do anything anyway);
* nothing is written through a symlink: data goes to a fresh file (``O_CREAT | O_EXCL |
  O_NOFOLLOW``, 0600) in the same directory, then ``os.replace`` swaps it in. A symlink at the
  target is therefore replaced by a regular file, never written through, and readers see the
  old file or the new one, never half of one;
* read-modify-write of the config happens under an exclusive ``flock`` on ``config.lock``, so
  parallel ``config set`` runs lose nothing (no lock on Windows, which has no ``fcntl``).

On Windows the ownership and mode checks are skipped: POSIX modes mean little there.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import click

_POSIX = os.name == "posix"


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) 0700; refuse it if others could write it."""
    missing: list[Path] = []
    p = path
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, 0o700)  # the umask can only take bits away from 0700
    check_private(path, directory=True)


def check_private(path: Path, *, directory: bool = False, secret: bool = False) -> bool:
    """Refuse ``path`` if it is another user's, or others can write it (or read a secret).

    Returns False when it does not exist. Symlinks are followed: what matters is what would
    be read.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    _refuse_unless_private(st, path, directory=directory, secret=secret)
    return True


def _refuse_unless_private(st: os.stat_result, path: Path, *, directory: bool = False,
                           secret: bool = False) -> None:
    if not _POSIX:  # pragma: no cover
        return
    what = "directory" if directory else "file"
    mine = os.geteuid()
    if st.st_uid not in (mine, 0):
        raise click.ClickException(
            f"refusing to use {path}: the {what} belongs to another user (uid {st.st_uid}); "
            f"remove it, or point NANOGPT_CONFIG_DIR / NANOGPT_CACHE_DIR elsewhere")
    forbidden = 0o077 if secret else 0o022
    if st.st_mode & forbidden and st.st_mode & stat.S_ISVTX:
        # a shared directory like /tmp: chmod would break it for everyone
        raise click.ClickException(
            f"refusing to use {path}: it is a directory shared by all users (mode "
            f"{stat.S_IMODE(st.st_mode):04o}); point NANOGPT_CONFIG_DIR / NANOGPT_CACHE_DIR "
            f"at a directory of your own")
    if st.st_mode & forbidden:
        mode = stat.S_IMODE(st.st_mode)
        fixed = 0o700 if directory else 0o600
        who = "others can read or write it" if secret else "other users can write it"
        raise click.ClickException(
            f"refusing to use {path}: {who} (mode {mode:04o}); fix it with "
            f"'chmod {fixed:o} {shlex.quote(str(path))}'")


def read_private(path: Path, *, secret: bool = False) -> str | None:
    """The text of a file this user alone controls (its directory too); None if absent.

    What is checked is what is read: the directory is opened, then the file is opened inside
    that open directory, and both are checked with ``fstat`` on what was opened. A check by
    path followed by a read by path could read another directory than the one checked (one
    swapped in meanwhile through a symlink, or a rename in a shared parent). Text that is not
    UTF-8 is refused without quoting it: the file may hold the key.
    """
    if not _POSIX or os.open not in os.supports_dir_fd:  # pragma: no cover
        check_private(path.parent, directory=True)
        if not check_private(path, secret=secret):
            return None
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        return _utf8(raw, path)
    cloexec = getattr(os, "O_CLOEXEC", 0)
    try:
        # O_PATH (Linux): a directory we may search but not list opens too
        dir_fd = os.open(path.parent, getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY
                         | cloexec)
    except FileNotFoundError:
        return None
    try:
        _refuse_unless_private(os.fstat(dir_fd), path.parent, directory=True)
        try:
            fd = os.open(path.name, os.O_RDONLY | os.O_NONBLOCK | cloexec, dir_fd=dir_fd)
        except FileNotFoundError:
            return None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        _refuse_unless_private(os.fstat(f.fileno()), path, secret=secret)
        return _utf8(f.read(), path)


class NotText(click.ClickException, ValueError):
    """A private file that is not UTF-8 text (a ValueError too, like a bad cache entry)."""


def _utf8(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NotText(
            f"cannot read {path}: byte {e.start} is not UTF-8 text; fix or delete the "
            f"file") from None


def write_private(path: Path, data: str | bytes, *, make_dir: bool = True,
                  overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically, 0600, never through a symlink.

    ``make_dir``: create the directory 0700 and check it (our own directories; not for a
    file the user names). ``overwrite=False``: fail with FileExistsError if ``path`` exists
    (a link, not a rename, puts the file in place, so a file appearing meanwhile is kept).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data

    def fill(fd: int, tmp: str) -> None:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())

    replace_private(path, fill, make_dir=make_dir, overwrite=overwrite)


def replace_private(path: Path, fill: Callable[[int, str], None], *, make_dir: bool = True,
                    overwrite: bool = True) -> None:
    """Put a new 0600 file at ``path``: ``fill(fd, temp_path)`` writes it (and closes ``fd``),
    then it is renamed (or linked) into place. For writers that want a path, like readline."""
    if make_dir:
        ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if _POSIX:
            try:
                os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask took away
            except OSError:
                os.close(fd)
                raise
        fill(fd, tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_no_clobber(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _link_no_clobber(tmp: str, path: Path) -> None:
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some file systems): check, then rename
        if os.path.lexists(path):
            raise FileExistsError(17, "File exists", str(path)) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def locked(directory: Path, name: str = "config.lock") -> Iterator[None]:
    """Hold an exclusive lock on ``directory/name`` (created 0600, never via a symlink)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks; writes stay atomic
        yield
        return
    ensure_private_dir(directory)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(directory / name, flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
