"""Cold start: what ``import spanline`` and the first ``configure_observability()`` load.

Counted in modules, never in milliseconds: a fresh interpreter reports what it
imported (``python -X importtime``, or an import hook that notes which thread
imports what), and each test keeps a budget. Nothing the first span does not need
is loaded before it: the summary's folds, the executors' process pool, git and
its subprocesses, sockets, the price table, the stream proxies, previews, or the
compiled redaction rules.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from tests._helpers import read_lines, run_interpreter, run_python, spans

#: Modules that no part of the first span needs.
NEVER_BEFORE_THE_FIRST_SPAN = {
    "concurrent.futures",  # the thread pool too (with logging and queue): patched as it loads
    "multiprocessing",
    "subprocess",
    "socket",
    "pydantic",
    "opentelemetry",
    "logfire",
    "spanline.folds",
    "spanline._capture._prices",
    "spanline._capture._usage",
    "spanline.exporters",
    "spanline.otel",
    "spanline.cli",
    "spanline.dashboard",
    "spanline._instrument",
}
#: Also left out of the import itself: they load with configure.
NOT_AT_IMPORT = {
    "spanline._capture._previews",
    "spanline._capture._scrub",
    "spanline._decorators._streams",
    "spanline._writer",
    "spanline._session._settings",
    "spanline._session._live_summary",
    "spanline._decorators._propagate",
    "orjson",
}
#: Loaded by the session's own threads (the writer encodes first), never by the
#: thread calling configure: orjson's import brings these.
NOT_ON_THE_CALLING_THREAD = {
    "orjson",
    "uuid",
    "platform",
    # Nor what neither the import nor configure needs (the settings are a named tuple,
    # the run a plain class; tracebacks are formatted by the first error).
    "dataclasses",
    "inspect",
    "json",
    "hashlib",
    "traceback",
}
#: spanline's own modules that ``import spanline`` may load (27 once the writer's,
#: the settings' and the thread pool's imports moved off it; 28 since a span's data
#: methods have a module of their own, which keeps the tracer's under the size limit).
IMPORT_BUDGET = 28
#: ... and those the first configure may add on the calling thread (15: 14 once the
#: writer's imports moved off it, plus the writer's line templates, a small pure module).
CONFIGURE_BUDGET = 15
#: Every module, the standard library's included, that the calling thread may import
#: (Python 3.11 on Linux: 59 for the import, from 96 when dataclasses, json, hashlib
#: and concurrent.futures still loaded with it; 21 or 22 for configure, which no
#: longer loads orjson, uuid, platform or datetime but now imports signal itself,
#: before the session's threads start, and importlib.machinery for the pools' import
#: hook). The margin of 2 is for other Python versions' standard library.
ALL_AT_IMPORT_BUDGET = 61
ALL_AT_CONFIGURE_BUDGET = 24


def _imported_by_importtime(code: str) -> list[str]:
    """The modules a fresh interpreter imports running ``code``, per ``-X importtime``."""
    result = run_interpreter("-X", "importtime", "-c", code)
    assert result.returncode == 0, result.stderr
    names = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "imported package" not in line:
            names.append(line.rsplit("|", 1)[1].strip())
    return names


def _loaded(names: list[str], forbidden: set[str]) -> list[str]:
    return sorted(
        n
        for n in names
        if n in forbidden
        or n.split(".")[0] in forbidden
        or any(n.startswith(f + ".") for f in forbidden)
    )


def _compiled_redaction_rules(setup: str) -> int:
    """How many of the built-in redaction rules are compiled after ``setup``."""
    code = setup + textwrap.dedent(
        """
        import re, spanline._capture._redact as redact
        sources = set(redact._DEFAULT_RULES) | {redact.SECRET_KEY_PATTERN}
        print(sum(1 for key in list(re._cache) if key[1] in sources))
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def test_import_spanline_loads_only_the_modules_a_span_needs() -> None:
    names = _imported_by_importtime("import spanline")
    assert "spanline._hotpath._tracer" in names  # the parser reads the report
    assert _loaded(names, NEVER_BEFORE_THE_FIRST_SPAN | NOT_AT_IMPORT) == []
    ours = [n for n in names if n == "spanline" or n.startswith("spanline.")]
    assert len(ours) <= IMPORT_BUDGET, ours


def test_import_compiles_no_redaction_rule() -> None:
    # Read before the module's attributes are: reading one compiles them all.
    assert _compiled_redaction_rules("import spanline\n") == 0


def test_the_redaction_rules_compile_on_first_use() -> None:
    setup = "import spanline\nspanline._capture._redact.redact_text('token: abc123XYZ')\n"
    assert _compiled_redaction_rules(setup) > 10


def test_configure_loads_only_what_the_first_span_needs(tmp_path: Path) -> None:
    """The thread calling configure loads no fold, no process pool, no subprocess; the
    session's own threads (metadata, writer, summary) load theirs meanwhile."""
    code = textwrap.dedent(
        f"""
        import sys, threading
        calling, seen = threading.get_ident(), []

        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name not in sys.modules and threading.get_ident() == calling:
                    seen.append(name)
                return None

        sys.meta_path.insert(0, Spy())
        import spanline
        at_import = len(seen)
        spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
        with spanline.span("first"):
            pass
        print(seen[:at_import])
        print(seen[at_import:])
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    at_import, at_configure = (ast.literal_eval(line) for line in result.stdout.splitlines())
    assert "spanline._writer._pipeline" in at_configure  # the hook sees configure's imports
    assert _loaded(at_import + at_configure, NEVER_BEFORE_THE_FIRST_SPAN) == []
    assert _loaded(at_import + at_configure, NOT_ON_THE_CALLING_THREAD) == []
    ours = [n for n in at_configure if n.startswith("spanline.")]
    assert len(ours) <= CONFIGURE_BUDGET, ours
    assert len(set(at_import)) <= ALL_AT_IMPORT_BUDGET, at_import
    assert len(set(at_configure)) <= ALL_AT_CONFIGURE_BUDGET, at_configure


def test_a_process_pool_imported_after_configure_still_carries_the_span(tmp_path: Path) -> None:
    """The process pool is patched as its module loads, however late that is."""
    code = textwrap.dedent(
        f"""
        import sys, spanline
        spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
        assert "concurrent.futures.process" not in sys.modules
        from concurrent.futures import ProcessPoolExecutor
        from spanline._decorators import _propagate
        print(ProcessPoolExecutor.submit is _propagate._submit_process)
        spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                         propagate_executors=False)
        print(ProcessPoolExecutor.submit is _propagate._process_submit)
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_a_thread_pool_imported_after_configure_carries_the_span(tmp_path: Path) -> None:
    """The thread pool is patched as its module loads, like the process pool; turning
    propagation off before that leaves it as it is."""
    code = textwrap.dedent(
        f"""
        import sys, spanline
        spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
        print("concurrent.futures" in sys.modules)
        from concurrent.futures import ThreadPoolExecutor  # after configure
        with spanline.span("submitter") as outer:
            with ThreadPoolExecutor(1) as pool:
                print(pool.submit(lambda: spanline.current_span() is outer).result())
        spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                         propagate_executors=False)
        with spanline.span("submitter") as outer:
            with ThreadPoolExecutor(1) as pool:
                print(pool.submit(lambda: spanline.current_span() is outer).result())
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "False"]


def test_the_pools_import_hook_imports_nothing_itself() -> None:
    """The hook runs under the interpreter's import lock: an import of its own could wait
    on another thread holding that module's lock while it waits for the interpreter's
    (it did: the summary's thread importing inspect, which imports importlib.machinery)."""
    code = textwrap.dedent(
        """
        import sys
        from spanline._decorators import _propagate
        _propagate.patch_executors()  # as configure does (no other thread imports here)
        hook_code, inside = _propagate._PatchOnImport.find_spec.__code__, []

        class Spy:
            def find_spec(self, name, path=None, target=None):
                frame = sys._getframe(1)
                while frame is not None and frame.f_code is not hook_code:
                    frame = frame.f_back
                if frame is not None:
                    inside.append(name)
                return None

        sys.meta_path.insert(1, Spy())
        sys.modules.pop("importlib.machinery", None)  # as before anything imported it
        from concurrent.futures import ThreadPoolExecutor
        print(inside)
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_propagation_turned_off_before_the_thread_pool_loads_leaves_it_alone(
    tmp_path: Path,
) -> None:
    code = textwrap.dedent(
        f"""
        import spanline
        spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                         propagate_executors=False)
        from concurrent.futures import ThreadPoolExecutor
        from spanline._decorators import _propagate
        print(ThreadPoolExecutor.submit is _propagate._submit_thread)
        with spanline.span("submitter") as outer:
            with ThreadPoolExecutor(1) as pool:
                print(pool.submit(lambda: spanline.current_span() is outer).result())
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_work_sent_to_a_late_imported_process_pool_keeps_its_parent(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import multiprocessing, spanline

        def task(n):
            with spanline.span("in-worker"):
                return n * 2

        if __name__ == "__main__":
            run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
            from concurrent.futures import ProcessPoolExecutor  # after configure
            context = multiprocessing.get_context("spawn")  # no span inherited by fork
            with spanline.span("submitter"):
                with ProcessPoolExecutor(1, mp_context=context) as pool:
                    print(pool.submit(task, 21).result())
            spanline.shutdown()
            print(run.telemetry_path)
        """
    )
    script = tmp_path / "late_pool.py"
    script.write_text(code)
    result = run_interpreter(str(script))
    assert result.returncode == 0, result.stderr
    answer, telemetry = result.stdout.split()
    assert answer == "42"
    merged = spans(read_lines(Path(telemetry)))
    (submitter,) = [s for s in merged.values() if s["name"] == "submitter"]
    (worker,) = [s for s in merged.values() if s["name"] == "in-worker"]
    assert worker["parent"] == submitter["span_id"]
