"""Large captured values stored out of line, in the run's ``blobs/`` directory.

In full capture a value over ``blob_threshold`` leaves the line: the writer's helper
thread (never the caller's) encodes and hashes it, puts a reference in the attribute
(:data:`spanline.schema.BLOB_REF`: SHA-256, size, media type) and hands the bytes to
:class:`BlobStore`, whose own thread compresses (zstd, when ``zstandard`` is installed)
and writes ``blobs/<sha256>.zst`` (or ``blobs/<sha256>``). A file is written under a
temporary name (``.<name>.<pid>.<thread>``) and renamed, so a reader finds a whole blob or
none: a process killed before its blob thread wrote leaves a reference whose file is
missing, which readers show as such. Readers never take a temporary file for a blob; one
whose process is gone is removed by :func:`sweep_temporaries` (``show``, ``check`` and the
next process that writes a blob into the run call it). A value already stored is not
written twice.

Readers resolve references with :func:`read_blob` and :func:`resolve`; a file that does
not decompress or whose content does not match its name raises :class:`BlobError`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from spanline.schema import BLOB_MEDIA_JSON, BLOB_MEDIA_TEXT, BLOB_REF, FULL_CAPTURE_KEYS

__all__ = [
    "BLOBS_DIR",
    "BlobError",
    "BlobStore",
    "blob_path",
    "blob_ref",
    "compress_blob",
    "externalize",
    "read_blob",
    "rename_refs",
    "resolve",
    "sweep_temporaries",
]

BLOBS_DIR = "blobs"
#: How a blob file being written starts (``.<name>.<pid>.<thread>``), until it is renamed.
TEMPORARY_PREFIX = "."
_HEX = frozenset("0123456789abcdef")
_ZSTD_SUFFIX = ".zst"
#: Characters encoded, hashed and compressed at a time: no call holds the GIL for long.
_PIECE = 1 << 20
#: The most a blob file may decompress to: a hostile file claiming more is refused
#: before anything is allocated.
_MAX_BLOB = 1 << 32


class BlobError(ValueError):
    """A blob file that cannot be read back: not zstd, cut short, or not what its name says."""


def blob_ref(value: object) -> dict[str, Any] | None:
    """The reference inside ``value`` when it is one (``{BLOB_REF: {sha256, size,
    media_type}}`` with a well-formed hash), else None."""
    if type(value) is not dict or len(value) != 1:
        return None
    ref = value.get(BLOB_REF)
    if type(ref) is not dict:
        return None
    digest = ref.get("sha256")
    if type(digest) is not str or len(digest) != 64 or not _HEX.issuperset(digest):
        return None
    return ref


def blob_path(run_dir: str | os.PathLike[str], digest: str) -> Path | None:
    """The file holding blob ``digest`` in ``run_dir`` (compressed or not), or None."""
    if len(digest) != 64 or not _HEX.issuperset(digest):
        return None
    base = Path(run_dir) / BLOBS_DIR / digest
    for candidate in (base.with_name(digest + _ZSTD_SUFFIX), base):
        if candidate.is_file():
            return candidate
    return None


def read_blob(run_dir: str | os.PathLike[str], digest: str) -> bytes | None:
    """The stored bytes of blob ``digest`` of the run, or None when no file holds it.

    Raises:
        BlobError: the file does not decompress, or its bytes do not hash to its name.
    """
    path = blob_path(run_dir, digest)
    if path is None:
        return None
    data = path.read_bytes()
    if path.suffix == _ZSTD_SUFFIX:
        data = _decompress(data, path.name)
    if hashlib.sha256(data).hexdigest() != digest:
        raise BlobError(f"blob {path.name} is corrupt: its content does not match its name")
    return data


def _decompress(data: bytes, name: str) -> bytes:
    try:
        import zstandard
    except ImportError:
        raise BlobError(
            f"blob {name} is compressed with zstd: pip install 'spanline[blobs]' to read it"
        ) from None
    try:
        if zstandard.frame_content_size(data) > _MAX_BLOB:
            raise BlobError(f"blob {name} is corrupt: it claims more than {_MAX_BLOB} bytes")
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=_MAX_BLOB)
    except zstandard.ZstdError as exc:
        raise BlobError(f"blob {name} is corrupt: {exc}") from None


def resolve(run_dir: str | os.PathLike[str], value: object) -> object:
    """``value`` with its blob reference replaced by the content, when it is one.

    Text blobs come back as text, JSON blobs as the decoded value. A reference whose file
    is missing (the writing process was killed before its blob thread wrote it) stays a
    reference, with ``"missing": true`` beside it.

    Raises:
        BlobError: the file is corrupt.
    """
    ref = blob_ref(value)
    if ref is None:
        return value
    data = read_blob(run_dir, ref["sha256"])
    if data is None:
        return {BLOB_REF: ref, "missing": True}
    if ref.get("media_type") == BLOB_MEDIA_JSON:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise BlobError(f"blob {ref['sha256']} is corrupt: not JSON") from None
    return data.decode("utf-8", "replace")


def externalize(
    event: dict[str, Any], threshold: int, store: Callable[[str, Sequence[bytes]], None]
) -> dict[str, Any]:
    """Move the full-capture values of ``event`` over ``threshold`` bytes out of line.

    Called on the writer's helper thread after redaction, so what is hashed and stored is
    what the line would have held. Returns the event (a new ``attributes`` dict when a value
    moved out); ``store(sha256, pieces)`` receives each value's bytes, in pieces.
    """
    attributes = event.get("attributes")
    if not attributes or type(attributes) is not dict:
        return event
    moved: dict[str, Any] | None = None
    for key in FULL_CAPTURE_KEYS:
        found = _stored_form(attributes.get(key), threshold)
        if found is None:
            continue
        digest, pieces, media = found
        store(digest, pieces)
        if moved is None:
            moved = dict(attributes)
        size = sum(map(len, pieces))
        moved[key] = {BLOB_REF: {"sha256": digest, "size": size, "media_type": media}}
    if moved is None:
        return event
    return {**event, "attributes": moved}


def _stored_form(value: object, threshold: int) -> tuple[str, list[bytes], str] | None:
    """The SHA-256, bytes (in pieces) and media type of a value over ``threshold`` bytes."""
    if value is None or type(value) in (int, float, bool):
        return None
    if isinstance(value, str):
        if len(value) <= threshold // 4:  # fewer bytes than the threshold, surely
            return None
        hashed = _hashed(value)  # encoded and hashed on the blob thread during capture
        if hashed is not None:
            digest, pieces = hashed
            return None if sum(map(len, pieces)) <= threshold else (digest, pieces, BLOB_MEDIA_TEXT)
        pieces, media = _encoded(value), BLOB_MEDIA_TEXT
    else:
        try:
            pieces = [orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)]
        except TypeError:  # not JSON-like: the line's encoder deals with it
            return None
        media = BLOB_MEDIA_JSON
    if sum(map(len, pieces)) <= threshold:
        return None
    sha = hashlib.sha256(pieces[0])  # releases the GIL on large inputs
    for piece in pieces[1:]:
        sha.update(piece)
    return sha.hexdigest(), pieces, media


#: The store capture hands long texts to (the session's, in full capture), or None.
_active: BlobStore | None = None
# Texts whose sink finished, by id (the entry holds the text, so the id is not reused while
# it is listed); at most _SINKS: one no longer listed is encoded and hashed by the writer.
_HASHED: dict[int, tuple[str, TextSink]] = {}
_SINKS = 4
#: How long the writer's helper waits for a sink's last piece before doing the work itself.
_SINK_WAIT_S = 30.0


def text_sink() -> TextSink | None:
    """A sink for a long text capture is redacting (None when no store takes blobs)."""
    store = _active
    return None if store is None else store.text_sink()


class TextSink:
    """Encodes and hashes a text on the blob thread, a piece at a time, in the order given.

    Capture feeds it each redacted piece of a long text as it is done, so the hash is
    ready about when the redaction is; the writer's helper thread then finds it
    (``externalize``) instead of stopping for a 50 MB encode and hash, during which no
    line could be written. ``finish`` names the text the pieces make up.
    """

    def __init__(self, submit: Callable[[Callable[[], None]], None]) -> None:
        self._submit = submit
        self._hash: Any = None  # made on the blob thread, with the first piece
        self.pieces: list[bytes] = []
        self._done = threading.Event()

    def feed(self, piece: str) -> None:
        """Hand over the next piece of the text."""
        self._submit(functools.partial(self._add, piece))

    def _add(self, piece: str) -> None:
        for data in _encoded(piece):
            self.pieces.append(data)
            if self._hash is None:
                self._hash = hashlib.sha256(data)  # releases the GIL on large inputs
            else:
                self._hash.update(data)

    def finish(self, text: str) -> None:
        """The pieces fed make up ``text``: the writer may take the result for it."""
        _HASHED[id(text)] = (text, self)
        while len(_HASHED) > _SINKS:
            try:
                del _HASHED[next(iter(_HASHED))]
            except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                break
        self._submit(self._done.set)

    def result(self, timeout: float) -> tuple[str, list[bytes]] | None:
        """The text's SHA-256 and its UTF-8 pieces, once the blob thread has them."""
        if not self._done.wait(timeout) or self._hash is None:
            return None
        return self._hash.hexdigest(), self.pieces


def _hashed(value: str) -> tuple[str, list[bytes]] | None:
    """What a sink computed for ``value`` during capture, or None (then the caller does it)."""
    entry = _HASHED.pop(id(value), None)
    if entry is None or entry[0] is not value:
        return None
    return entry[1].result(_SINK_WAIT_S)


def _encoded(text: str) -> list[bytes]:
    """``text`` as UTF-8, a piece of at most ``_PIECE`` characters at a time: encoding 50 MB
    at once would hold the GIL for the whole copy (a slice never splits a code point, and a
    slice of a str subclass is a plain str)."""
    if len(text) <= _PIECE:
        return [text.encode("utf-8", "surrogatepass")]
    return [
        text[at : at + _PIECE].encode("utf-8", "surrogatepass")
        for at in range(0, len(text), _PIECE)
    ]


def sweep_temporaries(
    run_dir: str | os.PathLike[str], alive: Callable[[int], bool], *, dry_run: bool = False
) -> tuple[int, int]:
    """Remove the half-written blob files in ``run_dir`` whose process is gone.

    Args:
        run_dir: the run's directory.
        alive: whether a process of this host runs, by pid (the run store's check).
        dry_run: remove nothing, only count what would go.

    Returns:
        How many files were removed, and their bytes. Nothing is raised: a file that
        cannot be removed (a read-only copy of the run) stays, and readers ignore it.
    """
    removed = freed = 0
    folder = Path(run_dir) / BLOBS_DIR
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return 0, 0
    for name in names:
        pid = _writer_pid(name)
        if pid is None or alive(pid):
            continue
        try:
            size = os.lstat(folder / name).st_size
            if not dry_run:
                os.unlink(folder / name)
        except OSError:
            continue
        removed, freed = removed + 1, freed + size
    return removed, freed


def _writer_pid(name: str) -> int | None:
    """The pid in a temporary blob file's name (``.<sha256>[.zst].<pid>.<thread>``)."""
    if not name.startswith(TEMPORARY_PREFIX):
        return None
    parts = name[len(TEMPORARY_PREFIX) :].split(".")
    if len(parts) not in (3, 4) or len(parts[0]) != 64 or not _HEX.issuperset(parts[0]):
        return None
    pid, thread = parts[-2], parts[-1]
    return int(pid) if pid.isdigit() and thread.isdigit() and int(pid) > 0 else None


class BlobStore:
    """Writes blobs into ``<run_dir>/blobs/`` on a thread of its own (``spanline-blobs``).

    Args:
        run_dir: the run's directory.
        synchronous: write on the caller's thread (deterministic test runs).
        on_thread_start: called first on the blob thread (marks it as spanline's own).
        alive: whether a process runs, by pid: given, the first write removes the
            half-written files of the run's processes that are gone (killed mid-blob).
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        synchronous: bool = False,
        on_thread_start: Callable[[], object] | None = None,
        alive: Callable[[int], bool] | None = None,
    ) -> None:
        self.directory = Path(run_dir) / BLOBS_DIR
        self.synchronous = synchronous
        self._on_thread_start = on_thread_start
        self._alive = alive
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._jobs: deque[Callable[[], None]] = deque()
        self._seen: set[str] = set()
        self._busy = False
        self._closing = False
        self._thread: threading.Thread | None = None
        #: Blobs that could not be written (disk full, say), and the first reason.
        self.failed = 0
        self.error: BaseException | None = None

    def put(self, digest: str, data: bytes | Sequence[bytes]) -> None:
        """Store ``data`` (bytes, or its pieces in order) under ``digest`` unless this
        process already did."""
        if isinstance(data, (bytes, bytearray)):
            data = [bytes(data)]
        self._after_fork()
        with self._lock:
            if digest in self._seen:
                return
            self._seen.add(digest)
        self._submit(functools.partial(self._write, digest, data))

    def _submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the blob thread, after the jobs before it (now, if synchronous)."""
        if self.synchronous:
            job()
            return
        with self._lock:
            self._jobs.append(job)
            self._busy = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="spanline-blobs", daemon=True
                )
                self._thread.start()
            self._idle.notify_all()

    def text_sink(self) -> TextSink:
        """A sink that encodes and hashes a long text on the blob thread, a piece at a time,
        while capture is still redacting the rest (see :class:`TextSink`)."""
        self._after_fork()
        return TextSink(self._submit)

    def activate(self) -> None:
        """Make this the store that capture hands long texts to (see :func:`text_sink`)."""
        global _active
        _active = self

    def _after_fork(self) -> None:
        if self._pid != os.getpid():  # a forked child: the parent's thread and work are not ours
            self._reset()

    def wait(self, timeout: float | None) -> bool:
        """Block until every blob handed over is on disk; False if ``timeout`` passed first."""
        self._after_fork()
        with self._lock:
            return self._idle.wait_for(lambda: not self._busy, timeout)

    def close(self, timeout: float | None) -> None:
        """Write what is handed over, then end the blob thread (a later ``put`` starts
        another). Capture stops handing it long texts to hash."""
        global _active
        if _active is self:  # and the texts hashed for it: no line will take them now
            _active = None
            _HASHED.clear()
        self._after_fork()
        with self._lock:
            thread, self._closing = self._thread, True
            self._idle.notify_all()
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        if self._on_thread_start is not None:
            self._on_thread_start()
        while True:
            with self._lock:
                while not self._jobs:
                    self._busy = False
                    self._idle.notify_all()
                    if self._closing:
                        self._thread, self._closing = None, False
                        return
                    self._idle.wait()
                job = self._jobs.popleft()
            job()

    def _write(self, digest: str, pieces: Sequence[bytes]) -> None:
        try:
            if blob_path(self.directory.parent, digest) is not None:
                return  # stored by another process of the run, or an earlier run of it
            if self._alive is not None:
                sweep_temporaries(self.directory.parent, self._alive)
                self._alive = None  # once a process: what it leaves itself is in flight
            self.directory.mkdir(parents=True, exist_ok=True)
            compressor = _compressor(sum(map(len, pieces)))
            name = digest if compressor is None else digest + _ZSTD_SUFFIX
            temporary = (
                self.directory / f"{TEMPORARY_PREFIX}{name}.{os.getpid()}.{threading.get_ident()}"
            )
            with open(temporary, "wb") as out:
                for piece in pieces:  # a piece at a time: each call lets other threads run
                    out.write(piece if compressor is None else compressor.compress(piece))
                if compressor is not None:
                    out.write(compressor.flush())
            os.replace(temporary, self.directory / name)  # whole or not at all
        except Exception as exc:
            self.failed += 1
            self.error = self.error or exc


def _compressor(size: int) -> Any:
    """A zstd stream for ``size`` bytes (the size goes in the frame), or None without zstd."""
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard.ZstdCompressor(level=3).compressobj(size=size)


def _compress(data: bytes) -> bytes | None:
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard.ZstdCompressor(level=3, threads=0).compress(data)


def compress_blob(digest: str, data: bytes) -> tuple[str, bytes]:
    """The file name and bytes that store ``data`` as blob ``digest`` (zstd when it can)."""
    payload = _compress(data)
    return (digest, data) if payload is None else (digest + _ZSTD_SUFFIX, payload)


def rename_refs(event: dict[str, Any], renames: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``event`` with each blob reference whose hash ``renames`` maps given the new hash and
    size (a blob redacted again is named by its new bytes)."""
    attributes = event.get("attributes")
    if not renames or type(attributes) is not dict:
        return event
    changed = None
    for key, value in attributes.items():
        ref = blob_ref(value)
        if ref is not None and ref["sha256"] in renames:
            changed = changed or dict(attributes)
            changed[key] = {BLOB_REF: {**ref, **renames[ref["sha256"]]}}
    return event if changed is None else {**event, "attributes": changed}
