"""``spanline export --format bundle``: one run as a tar.gz to share, secrets redacted again.

Redaction ran when the run was written; it runs again here because rules may have
been added since (and files such as the metadata were written by other code).
Telemetry lines are redacted event by event, JSON files value by value, YAML keys
that name secrets and every text file by the text rules. A file that is not text
cannot be checked and is left out, as is any file over the size limit; the
manifest says what was left out and why. Blobs (values stored out of line) are
decompressed, redacted again, renamed by their new hash (the log's references follow)
and compressed again; a blob over the limit is left out.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from spanline._lines._blobs import BLOBS_DIR
from spanline._runs._store import Run
from spanline._version import __version__
from spanline.cli._app import CliError
from spanline.cli._redacted import redact_blobs, redact_file

__all__ = ["Bundle", "default_exports", "export_bundle", "plan_bundle"]

MANIFEST = "MANIFEST.json"


@dataclass
class Bundle:
    """What goes into a bundle: redacted contents by archive path, and what was left out."""

    run: Run
    limit: int
    files: dict[str, bytes] = field(default_factory=dict)
    excluded: list[dict[str, Any]] = field(default_factory=list)

    def manifest(self) -> dict[str, Any]:
        """The manifest: every file with its size and sha256, and what was excluded and why."""
        return {
            "run_id": self.run.run_id,
            "spanline_version": __version__,
            "limit_bytes": self.limit,
            "redacted": True,
            "files": [
                {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                for path, data in sorted(self.files.items())
            ],
            "excluded": sorted(self.excluded, key=lambda item: str(item["path"])),
        }


def plan_bundle(run: Run, limit: int) -> Bundle:
    """Read and redact every file of the run directory that fits under ``limit`` bytes.

    Args:
        run: the run.
        limit: files larger than this many bytes are left out.

    Returns:
        The bundle's contents, keyed ``<run_id>/<path in the run directory>``.
    """
    bundle = Bundle(run, limit)
    root = run.directory.resolve()
    # Blobs first: each is redacted again and renamed by its new hash, which the log's
    # references then follow; one over the limit is left out (its reference stays).
    blobs = redact_blobs(root, limit)
    for relative, payload in blobs.files.items():
        bundle.files[f"{run.run_id}/{relative}"] = payload
    for relative, size, reason in blobs.excluded:
        bundle.excluded.append({"path": f"{run.run_id}/{relative}", "size": size, "reason": reason})
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        name = f"{run.run_id}/{relative}"
        if path.parent.name == BLOBS_DIR and path.parent.parent == root:
            continue
        if path.is_symlink():
            bundle.excluded.append({"path": name, "size": None, "reason": "symbolic link"})
            continue
        if not path.is_file():
            continue
        size = path.stat().st_size
        if size > limit:
            reason = f"over the limit ({size} > {limit} bytes)"
            bundle.excluded.append({"path": name, "size": size, "reason": reason})
            continue
        redacted = redact_file(path.name, path.read_bytes(), blobs.renames)
        if redacted is None:
            reason = "not text: cannot be checked for secrets"
            bundle.excluded.append({"path": name, "size": size, "reason": reason})
            continue
        bundle.files[name] = redacted
    return bundle


def default_exports(run: Run) -> Path:
    """Where a bundle goes unless ``--out`` says: ``<base>/exports/``, beside ``runs/``
    (for a run directory outside a ``runs/`` folder: ``exports/`` beside it). Never the
    current directory, never inside the run."""
    directory = run.directory.resolve()
    base = directory.parent.parent if directory.parent.name == "runs" else directory.parent
    return base / "exports"


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def export_bundle(
    run: Run, out: Path | None, *, limit: int, dry_run: bool = False, as_json: bool = False
) -> list[Path]:
    """Write ``<run_id>.tar.gz``: the run's files, redacted, with ``MANIFEST.json``.

    Args:
        run: the run.
        out: the archive, a directory to put ``<run_id>.tar.gz`` in, or None for the
            ``exports/`` folder of the base directory (see :func:`default_exports`).
        limit: files larger than this many bytes are left out.
        dry_run: print what would be included and write nothing.
        as_json: with ``dry_run``, print the manifest as JSON.

    Returns:
        The archive written (none for a dry run).

    Raises:
        CliError: ``out`` is inside the run directory (the bundle would bundle itself).
    """
    bundle = plan_bundle(run, limit)
    manifest = bundle.manifest()
    if dry_run:
        if as_json:
            sys.stdout.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            for item in manifest["files"]:
                sys.stdout.write(f"include {item['path']} ({item['size']} bytes)\n")
            for item in manifest["excluded"]:
                sys.stdout.write(f"exclude {item['path']}: {item['reason']}\n")
        return []
    if out is None:
        out = default_exports(run) / f"{run.run_id}.tar.gz"
        out.parent.mkdir(parents=True, exist_ok=True)
    elif out.is_dir():
        out = out / f"{run.run_id}.tar.gz"
    if out.resolve().is_relative_to(run.directory.resolve()):
        raise CliError(f"refusing to write {out} inside the run it bundles; give another --out")
    now = time.time()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=int(now)) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _add(
                tar,
                f"{run.run_id}/{MANIFEST}",
                orjson.dumps(manifest, option=orjson.OPT_INDENT_2),
                now,
            )
            for name, data in sorted(bundle.files.items()):
                _add(tar, name, data, now)
    out.write_bytes(buffer.getvalue())
    return [out]
