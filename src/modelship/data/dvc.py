"""DVC-tracked data: pull, verify, push, and a fingerprint of exactly which data.

The fingerprint (`data-version`) is a SHA-256 over `path<TAB>md5` lines of
every cached output that `dvc.lock` and the `.dvc` files record, sorted by
path: the same data gives the same value on any machine and in any order of
declaration, and one changed byte gives another (its md5 changes). Outputs
with `cache: false` (metrics, plots) are not data and stay out of it.

DVC is imported only inside these functions (the `data` extra). DVC resolves
targets against the process's current folder, so operations run inside
`in_repo`, which enters the repository's root and leaves it afterwards.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from modelship.ci.errors import ExternalError, GateFailed, UsageError

FINGERPRINT_LENGTH = 16  # hex characters (64 bits): short enough for labels and tags


@dataclass(frozen=True)
class Dataset:
    """One cached output as recorded in `dvc.lock` or a `.dvc` file."""

    path: str
    md5: str
    size: int | None
    nfiles: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Mismatch:
    """A tracked file whose workspace content is not what DVC recorded."""

    path: str
    state: str  # modified, deleted (missing), added (new file in a tracked folder)


def fingerprint(datasets: Sequence[Dataset]) -> str:
    """Stable data version over the recorded content hashes, independent of order."""
    lines = sorted(f"{d.path}\t{d.md5}\n" for d in datasets)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


@contextmanager
def in_repo(
    workdir: Path, remote: str | None = None, verify: bool = False, need_remote: bool = False
) -> Iterator[Any]:
    """Open the DVC repository that holds `workdir`, from inside its root.

    `remote` must be configured (UsageError otherwise, listing the ones that
    are); with `need_remote`, so must a default remote when none is named.
    `verify=True` makes DVC re-hash what it downloads from that remote.
    """
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        root = Repo.find_root(str(workdir))
    except NotDvcRepoError:
        raise UsageError(
            f"{workdir} is not in a DVC repository (no .dvc folder here or above)",
            "run `dvc init` and commit .dvc/, or set working-directory to the DVC project",
        ) from None
    previous = Path.cwd()
    os.chdir(root)
    try:
        with Repo(root) as repo:
            name = _remote_name(repo, remote)
        if need_remote and not name:
            raise UsageError(
                "no DVC remote is configured (none named, no default)",
                "pass the remote input, or set a default with `dvc remote add -d`",
            )
        if verify and name:
            with Repo(root, config={"remote": {name: {"verify": True}}}) as repo:
                yield repo
        else:
            with Repo(root) as repo:
                yield repo
    finally:
        os.chdir(previous)


def _remote_name(repo: Any, remote: str | None) -> str | None:
    configured = list(repo.config.get("remote", {}))
    if remote:
        if remote not in configured:
            raise UsageError(
                f"DVC remote {remote!r} is not configured"
                + (f"; configured: {', '.join(configured)}" if configured else "; none is"),
                "check the remote input, or add it with `dvc remote add`",
            )
        return remote
    default = repo.config.get("core", {}).get("remote")
    return str(default) if default else None


def tracked(repo: Any, targets: Sequence[str] = ()) -> list[Any]:
    """The cached outputs (DVC `Output` objects) of the targets, or of the whole repository."""
    from dvc.exceptions import DvcException

    outs: dict[str, Any] = {}
    if not targets:
        for stage in repo.index.stages:
            for out in stage.outs:
                if out.use_cache:
                    outs[str(out)] = out
        return _sorted(outs)
    for target in targets:
        try:
            pairs = repo.stage.collect_granular(target)
        except DvcException as err:
            raise UsageError(
                f"DVC target {target!r}: {_first_line(err)}",
                "targets are stage names, .dvc files or tracked paths",
            ) from None
        for stage, filter_info in pairs:
            for out in stage.outs:
                if not out.use_cache:
                    continue
                if filter_info is None or _covers(out.fs_path, str(filter_info)):
                    outs[str(out)] = out
    return _sorted(outs)


def _sorted(outs: dict[str, Any]) -> list[Any]:
    return [outs[key] for key in sorted(outs)]


def _covers(out_path: str, wanted: str) -> bool:
    return out_path == wanted or wanted.startswith(out_path.rstrip("/") + "/")


def datasets(repo: Any, outs: Sequence[Any]) -> list[Dataset]:
    """What DVC recorded for each output. An output it has no record of is a usage error."""
    found = []
    for out in outs:
        path = Path(out.fs_path).resolve().relative_to(Path(repo.root_dir).resolve()).as_posix()
        if not out.hash_info or not out.hash_info.value:
            raise UsageError(
                f"{path} has no recorded hash in dvc.lock",
                "run `dvc repro` (or `dvc commit`) and commit dvc.lock",
            )
        meta = out.meta
        nfiles = int(meta.nfiles) if meta and meta.nfiles is not None else 1
        size = int(meta.size) if meta and meta.size is not None else None
        found.append(Dataset(path, str(out.hash_info.value), size, nfiles))
    return found


def pull(repo: Any, targets: Sequence[str], remote: str | None, outs: Sequence[Any]) -> int:
    """`dvc pull`; returns the number of files fetched.

    Objects that are missing or corrupted on the remote raise ExternalError
    naming each file and which of the two it is.
    """
    from dvc.exceptions import CheckoutError, DvcException

    try:
        with _corruption_watch() as corrupted:
            result = repo.pull(targets=list(targets) or None, remote=remote)
    except CheckoutError as err:
        failed = list(getattr(err, "target_infos", []) or [])
        raise ExternalError(
            "DVC could not restore "
            + "; ".join(_why_missing(repo, remote, outs, path, corrupted) for path in failed),
            "push the data again from a machine that has it (`dvc push`), "
            "or check the remote's storage",
        ) from None
    except DvcException as err:
        if "unsaved files" in str(err):
            # DVC will not overwrite local edits of tracked data: name them.
            mismatches = verify(repo, outs)
            if mismatches:
                raise mismatch_error(mismatches) from None
        raise _classified(err, "dvc pull") from None
    if not isinstance(result, dict):
        return 0
    stats = result.get("stats", result)
    return int(stats.get("fetched", 0) or 0)


def push(repo: Any, targets: Sequence[str], remote: str | None) -> int:
    """`dvc push`: upload what the remote lacks; returns the number of files pushed."""
    from dvc.exceptions import DvcException

    try:
        return int(repo.push(targets=list(targets) or None, remote=remote) or 0)
    except DvcException as err:
        raise _classified(err, "dvc push") from None


def verify(repo: Any, outs: Sequence[Any]) -> list[Mismatch]:
    """Files of the given outputs whose workspace content differs from DVC's record."""
    from dvc.repo.data import status

    root = Path(repo.root_dir).resolve()
    prefixes = [Path(out.fs_path).resolve().relative_to(root).as_posix() for out in outs]
    uncommitted = status(repo, granular=True).get("uncommitted", {})
    found = []
    for state, paths in uncommitted.items():
        for path in paths:
            clean = str(path).rstrip("/")
            if any(clean == p or clean.startswith(p.rstrip("/") + "/") for p in prefixes):
                found.append(Mismatch(clean, state))
    return sorted(found, key=lambda m: m.path)


def describe_mismatches(mismatches: Sequence[Mismatch]) -> str:
    words = {"modified": "content differs", "deleted": "missing", "added": "not recorded"}
    return "; ".join(f"{m.path} ({words.get(m.state, m.state)})" for m in mismatches)


def mismatch_error(mismatches: Sequence[Mismatch]) -> GateFailed:
    return GateFailed(
        f"{len(mismatches)} tracked file(s) differ from dvc.lock/.dvc: "
        + describe_mismatches(mismatches),
        "pull the data again, or record the new data with `dvc repro`/`dvc add` and commit",
    )


@contextmanager
def _corruption_watch() -> Iterator[set[str]]:
    """Collect the hashes of objects DVC found corrupted while fetching.

    DVC re-hashes what it takes from a local remote (and from any remote with
    `verify`); on a mismatch it deletes the object and only says so at debug
    level, then reports the file as missing. This tells the two apart.
    """
    found: set[str] = set()
    pattern = re.compile(r"([0-9a-f]{2})[/\\]([0-9a-f]{30,}(?:\.dir)?)'")

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if "corrupted cache file" in message and (match := pattern.search(message)):
                found.add(match[1] + match[2])

    logger = logging.getLogger("dvc_data.hashfile.db")
    handler = Watch(logging.DEBUG)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _why_missing(
    repo: Any, remote: str | None, outs: Sequence[Any], target: str, corrupted: set[str]
) -> str:
    """`data/x.csv (md5 ...: corrupted on the remote)` or `(...: missing on the remote)`."""
    root = Path(repo.root_dir).resolve()
    wanted = (root / target).resolve()
    for out in outs:
        if Path(out.fs_path).resolve() != wanted:
            continue
        md5 = str(out.hash_info.value)
        if md5 in corrupted:
            return f"{target} (md5 {md5}: corrupted on the remote, its content has another hash)"
        if md5.endswith(".dir") and corrupted:
            return f"{target} (folder {md5}: corrupted objects {', '.join(sorted(corrupted))})"
        try:
            odb = repo.cloud.get_remote_odb(remote, "pull")
            on_remote = bool(odb.exists(md5))
        except Exception:  # the diagnosis is best effort
            return f"{target} (md5 {md5}: not available from the remote)"
        if md5.endswith(".dir"):
            what = "a file in it is missing or corrupted" if on_remote else "missing"
            return f"{target} (folder {md5}: {what} on the remote)"
        if on_remote:
            return f"{target} (md5 {md5}: corrupted on the remote, its content has another hash)"
        return f"{target} (md5 {md5}: missing on the remote)"
    return f"{target} (missing or corrupted on the remote)"


def _classified(err: Exception, what: str) -> Exception:
    name = type(err).__name__
    text = _first_line(err)
    if name == "NoRemoteError":
        return UsageError(
            f"{what}: no DVC remote is configured",
            "pass the remote input, or set a default with `dvc remote add -d`",
        )
    if name == "RemoteNotFoundError":
        return UsageError(f"{what}: {text}", "check the remote input and `dvc remote list`")
    return ExternalError(f"{what} failed: {text}", "see the DVC output above")


def _first_line(err: Exception) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(err).__name__
