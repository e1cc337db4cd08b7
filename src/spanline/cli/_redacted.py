"""The one redaction pass on the way out: whatever leaves the run directory (an export, a
bundle) is redacted again with the rules of now.

Redaction ran when the run was written; it runs again here because rules may have been
added since (a newer spanline, a pattern or an exemption changed in the environment), and
files such as the metadata were written by other code. Telemetry lines are redacted event
by event (as the writer does), JSON files value by value, YAML keys that name secrets and
every text file by the text rules.

``spanline export`` hands every format a :func:`redacted_run`: a copy of the run whose
files have been through this pass, in a temporary directory, so a format added later
reads only redacted data without doing anything for it. What a format writes into that
copy is moved to the run directory afterwards.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from spanline._capture._redact import REDACTED, configure_redaction, is_secret_key, redact_text
from spanline._capture._scrub import redact, redact_event
from spanline._lines._blobs import BLOBS_DIR, BlobError, compress_blob, read_blob, rename_refs
from spanline._lines._read import blocks
from spanline._runs._store import Run
from spanline.folds.events import SHOWN_AS

__all__ = [
    "RedactedBlobs",
    "deliver",
    "redact_blobs",
    "redact_file",
    "redact_line",
    "redact_log",
    "redacted_run",
    "use_environment_rules",
]

_YAML_KEY = re.compile(
    r"^(?P<lead>\s*(?:-\s+)?)(?P<key>[^\s:#][^:#]*?)(?P<sep>\s*:\s+)(?P<value>\S.*)$"
)


def redact_line(line: bytes, renames: dict[str, dict[str, Any]] | None = None) -> bytes:
    """One telemetry line, redacted as the writer redacts an event (a line that is not
    JSON by the text rules), without its newline; its blob references follow ``renames``
    (old hash -> new hash and size, see :func:`redact_blobs`)."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return redact_text(line.decode("utf-8", "replace")).encode()
    if isinstance(event, dict):
        return orjson.dumps(rename_refs(redact_event(event), renames or {}))
    return orjson.dumps(redact(event))


@dataclass
class RedactedBlobs:
    """A run's blobs redacted again: stored bytes by path in the run directory, the new
    hash and size of each old hash, and the blobs left out (path, size, reason)."""

    files: dict[str, bytes] = field(default_factory=dict)
    renames: dict[str, dict[str, Any]] = field(default_factory=dict)
    excluded: list[tuple[str, int, str]] = field(default_factory=list)


def redact_blobs(run_dir: Path, limit: int | None = None) -> RedactedBlobs:
    """Every blob of the run decompressed, redacted with the rules of now and named by the
    hash of its new bytes; blobs over ``limit`` bytes are left out.

    Raises:
        CliError: a blob file is corrupt (bad input).
    """
    from spanline.cli._app import CliError

    out = RedactedBlobs()
    folder = run_dir / BLOBS_DIR
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    for name in names:
        if name.startswith("."):
            continue  # a file a killed process left half-written: never a blob
        digest = name.removesuffix(".zst")
        try:
            data = read_blob(run_dir, digest)
        except (BlobError, OSError) as exc:
            raise CliError(str(exc)) from None
        if data is None:
            continue
        if limit is not None and len(data) > limit:
            reason = f"over the limit ({len(data)} > {limit} bytes)"
            out.excluded.append((f"{BLOBS_DIR}/{name}", len(data), reason))
            continue
        clean = _redact_blob(data)
        new = hashlib.sha256(clean).hexdigest()
        stored, payload = compress_blob(new, clean)
        out.files[f"{BLOBS_DIR}/{stored}"] = payload
        out.renames[digest] = {"sha256": new, "size": len(clean)}
    return out


def _redact_blob(data: bytes) -> bytes:
    """A blob's bytes redacted: a JSON value (stored as orjson writes it) value by value,
    text by the text rules."""
    try:
        value = orjson.loads(data)
        if orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS) == data:
            return orjson.dumps(redact(value), option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONDecodeError:
        pass
    return redact_text(data.decode("utf-8", "replace")).encode()


def _redact_yaml_line(line: str) -> str:
    match = _YAML_KEY.match(line)
    if match and is_secret_key(match.group("key").strip("'\"")):
        return f"{match.group('lead')}{match.group('key')}{match.group('sep')}{REDACTED}"
    return redact_text(line)


def redact_file(
    name: str, data: bytes, renames: dict[str, dict[str, Any]] | None = None
) -> bytes | None:
    """A file's contents with secrets redacted, or None when it is not text (``renames``:
    the blob references of a log, see :func:`redact_line`)."""
    if name.endswith(".jsonl"):
        return b"".join(redact_line(line, renames) + b"\n" for line in data.splitlines())
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    if name.endswith(".json"):
        try:
            return orjson.dumps(redact(orjson.loads(data)), option=orjson.OPT_INDENT_2) + b"\n"
        except orjson.JSONDecodeError:
            pass
    if name.endswith((".yaml", ".yml")):
        return "".join(_redact_yaml_line(line) for line in text.splitlines(keepends=True)).encode()
    return redact_text(text).encode()


def use_environment_rules() -> None:
    """Apply the redaction settings of the environment (patterns, exempt keys, entropy) to this
    process, as a traced program would: the rules of now include the user's."""
    from spanline._session._settings import variable_setting

    configure_redaction(
        variable_setting("redact_patterns"),
        variable_setting("redact_exempt_keys"),
        entropy=bool(variable_setting("redact_entropy")),
    )


@contextmanager
def redacted_run(run: Run) -> Iterator[Run]:
    """A copy of ``run`` whose text files went through the redaction pass; files that are
    not text are left out (they cannot be checked). Removed on exit.

    Args:
        run: the run to read.

    Yields:
        A run of the same id in a temporary ``runs/`` directory.
    """
    use_environment_rules()
    with tempfile.TemporaryDirectory(prefix="spanline-export-") as temporary:
        view = Run(run.run_id, Path(temporary) / "runs" / run.run_id)
        source = run.directory
        blobs = redact_blobs(source)
        for relative, payload in blobs.files.items():
            (view.directory / BLOBS_DIR).mkdir(parents=True, exist_ok=True)
            (view.directory / relative).write_bytes(payload)
        for path in sorted(source.rglob("*")):
            if path.is_symlink() or not path.is_file() or path.parent.name == BLOBS_DIR:
                continue
            target = view.directory / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".jsonl":  # line by line: a log may not fit in memory
                redact_log(path, target, blobs.renames)
                continue
            redacted = redact_file(path.name, path.read_bytes())
            if redacted is not None:
                target.write_bytes(redacted)
        SHOWN_AS[str(view.directory)] = str(source)
        try:
            yield view
        finally:
            SHOWN_AS.pop(str(view.directory), None)


def redact_log(path: Path, target: Path, renames: dict[str, dict[str, Any]] | None = None) -> None:
    """Redact a log line by line into ``target``, a block at a time (a log may not fit in
    memory); a last line with no newline keeps none (``renames``: see :func:`redact_line`)."""
    with target.open("wb") as out:
        for data, cut, _ in blocks(path, final=True):
            if cut == 0:
                out.write(redact_line(data, renames))
                continue
            for line in data[: cut - 1].split(b"\n"):
                out.write(redact_line(line, renames) + b"\n")


def deliver(written: list[Path], view: Run, run: Run) -> list[Path]:
    """Move what a format wrote inside the copy to the same place in the run directory.

    Returns:
        ``written``, with those paths replaced by their new places.
    """
    delivered: list[Path] = []
    for path in written:
        if path.is_relative_to(view.directory):
            target = run.directory / path.relative_to(view.directory)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            path = target
        delivered.append(path)
    return delivered
