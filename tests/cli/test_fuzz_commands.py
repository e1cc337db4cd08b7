"""Every command, with hostile arguments on hostile runs: a status of 0, 1 or 2, one error
line, never a traceback.

The commands are enumerated from the ``spanline`` group itself (the subcommands of
groups such as ``archive`` and ``emit`` too), and each one's arguments are drawn from
its own Click parameters: unicode digits, huge numbers, control characters, ``../``
paths, bad run ids, empty strings. The runs they read hold a NaN line, a 1 MB name,
truncated lines, bytes that are not UTF-8 and an integer past 64 bits. A command added
later is fuzzed as soon as it says here what it may be given (the test of the list
fails until it does). Each example runs the entry point in process, with stdout and
stderr as a terminal-less console script has them; derandomized, bounded examples.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spanline.cli import main
from spanline.cli._app import command

GOOD = "good-20261207T000000-aaaaaa"
#: The hostile runs, by id; each is next to a good one in the same base directory.
HOSTILE_RUNS = {
    "nan-20261207T000001-bbbbbb": "nan",
    "name-20261207T000002-cccccc": "name",
    "cut-20261207T000003-dddddd": "truncated",
    "bytes-20261207T000004-eeeeee": "bytes",
    "int-20261207T000005-ffffff": "integer",
}
_TRACE = "0" * 32

#: Hostile values for any argument (a few are replaced per test by real paths and ids).
HOSTILE = [
    "", " ", "0", "-1", "²", "١٢", "\uff19", "1e400", "nan", "inf", "-inf", str(2**64),
    "9" * 5000, "1" + "0" * 400, "\x00", "a\nb", "\r", "\x1b[31mred", "\t", "\udcff",
    "../", "../../etc/passwd", "/", "..", ".", "~", "-", "--", "latest", "previous",
    "not a run", "a/b", "run-20261207T000000-zzzzzz", "x" * 300, "🙂" * 50, "%s%n",
    "'; drop table records; --", "{}", "[]", "key=value", "=", "a=²", "tokens=1e400",
]  # fmt: skip
_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30))

#: What each command may be given, per parameter, where the generic values would make it
#: wait on the world (a network address, a port to serve on, a rate near zero) rather
#: than answer. Everything else is drawn from HOSTILE and random text.
_NO_NETWORK = st.sampled_from(
    ["", "\x00", "../", "{base}/archive", "{base}/archive", "{base}/../x", "a\nb",
     "file:///nonexistent/..", "memory://", "²", "not a url"]
)  # fmt: skip
OVERRIDES: dict[tuple[str, ...], dict[str, st.SearchStrategy[str]]] = {
    # a valid port would serve until stopped: only ports it must refuse
    ("serve",): {"port": st.sampled_from(["²", "-1", "65536", str(2**64), "", "1e3", "\x00"])},
    # a refused local port answers at once; no host is looked up
    ("replay",): {
        "endpoint": st.sampled_from(
            [
                "http://127.0.0.1:1/v1/traces",
                "",
                "\x00",
                "../x",
                "http://[::1",
                "http://127.0.0.1:99999",
                "a\nb",
            ]
        ),
        "rate": st.sampled_from(["nan", "inf", "-1", "0", "²", "1e400", "", "1e9"]),
        "timeout": st.sampled_from(["nan", "-1", "0", "²", "0.5", "", "1e400"]),
    },
    ("archive", "push"): {"url": _NO_NETWORK},
    ("archive", "pull"): {"url": _NO_NETWORK},
    ("query",): {"archive_url": _NO_NETWORK},
}

#: Every command, and whether it runs on the hostile runs (None) or why it is held back
#: from what it would otherwise do (the overrides above say how).
COMMANDS: dict[tuple[str, ...], str | None] = {
    ("analyze",): None,
    ("archive", "pull"): "no network address",
    ("archive", "push"): "no network address",
    ("check",): None,
    ("compare",): None,
    ("emit", "event"): None,
    ("emit", "phase"): None,
    ("emit", "span_end"): None,
    ("emit", "span_start"): None,
    ("export",): None,
    ("list",): None,
    ("open",): None,
    ("prune",): None,
    ("query",): "no network address for --archive",
    ("replay",): "a refused local port, no host looked up, no rate near zero",
    ("serve",): "only ports it must refuse: a valid one would serve until stopped",
    ("sessions",): None,
    ("show",): None,
    ("summary",): None,
    ("tail",): None,
    ("tools",): None,
}


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, sub in sorted(group.commands.items()):
        if isinstance(sub, click.Group):
            yield from _leaves(sub, (*path, name))
        else:
            yield (*path, name)


def _find(path: tuple[str, ...]) -> click.Command:
    found: click.Command = command()
    for name in path:
        assert isinstance(found, click.Group)
        found = found.commands[name]
    return found


def test_every_command_is_listed() -> None:
    """A command added later must say here what it may be given."""
    assert set(COMMANDS) == set(_leaves(command()))
    assert set(OVERRIDES) <= set(COMMANDS)


def _line(event: str, **fields: Any) -> bytes:
    import orjson

    return orjson.dumps({"event": event, **fields}) + b"\n"


def _start(sid: str, name: str, **extra: Any) -> bytes:
    return _line("span_start", span_id=sid, parent=None, trace_id=_TRACE, name=name,
                 component=None, kind="agent", ts=1800000001.0, attributes=extra)  # fmt: skip


def _end(sid: str) -> bytes:
    return _line("span_end", span_id=sid, status="ok", duration_ms=5.0, tokens=3, tool_uses=1,
                 ts=1800000002.0, attributes={})  # fmt: skip


def _write_run(base: Path, run_id: str, kind: str) -> None:
    directory = base / "runs" / run_id
    directory.mkdir(parents=True)
    # host "elsewhere": no process of this machine writes it, so tail ends at once
    head = _line("run_start", ts=1800000000.0, run_id=run_id, pid=1, trace_id=_TRACE,
                 host="elsewhere", schema_version=1, service_name="fuzz", query="q")  # fmt: skip
    body = _start("a000000000000001", "agent-1") + _end("a000000000000001")
    if kind == "nan":
        body += b'{"event":"span_end","span_id":"a000000000000002","tokens":NaN,"ts":Infinity}\n'
    elif kind == "name":
        body += _start("a000000000000002", "n" * (1 << 20), note="m" * (1 << 20))
    elif kind == "truncated":
        body = body[:-10] + b"\n" + _start("a000000000000002", "agent-2")[:-30]
    elif kind == "bytes":
        body += b'{"event":"span_start","span_id":"a000000000000002","name":"\xff\xfe\x80"}\n'
    elif kind == "integer":
        body += b'{"event":"span_end","span_id":"a000000000000001","tokens":' + b"9" * 400
        body += b',"ts":1800000003.0}\n'
    (directory / "telemetry.jsonl").write_bytes(head + body)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("template")
    _write_run(base, GOOD, "good")
    for run_id, kind in HOSTILE_RUNS.items():
        _write_run(base, run_id, kind)
    (base / "rules.yaml").write_text("run:\n  max_tokens: 1\nno_errors: true\n")
    archive = ["archive", "push", GOOD, "--to", str(base / "archive"), "--dir", str(base)]
    with _console_script_streams():
        assert main(archive) == 0  # an archive to pull from and query
    return base


@contextmanager
def _console_script_streams() -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """stdout and stderr as a console script has them in a UTF-8 locale, off a terminal."""
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            yield out, err
    finally:
        stdout.detach(), stderr.detach()  # the bytes stay readable


_RUN_IDS = [
    GOOD,
    *HOSTILE_RUNS,
    "latest",
    "{base}/runs/" + GOOD,
    "{base}/runs/" + GOOD + "/telemetry.jsonl",
]
#: Values a parameter of this name would take in use: drawn as often as hostile ones, so
#: the commands get past their checks and read the runs.
USUAL: dict[str, list[str]] = {
    "run": _RUN_IDS, "target": _RUN_IDS, "run_a": _RUN_IDS, "run_b": _RUN_IDS,
    "runs": _RUN_IDS, "baseline": _RUN_IDS, "span_id": ["a000000000000001", "ffffffffffffffff"],
    "rules_path": ["{base}/rules.yaml"], "junit_path": ["{base}/out/junit.xml"],
    "out": ["{base}/out"], "url": ["{base}/archive"], "archive_url": ["{base}/archive"],
    "sql": ["select * from records", "select span_name from records"],
    "name": ["agent-1", "phase-1"], "attrs": ["k=v", "tokens=3"], "counts": ["items=3"],
}  # fmt: skip


def _values(param: click.Parameter, overrides: dict[str, Any]) -> st.SearchStrategy[str]:
    name = param.name or ""
    if name in overrides:
        return overrides[name]  # type: ignore[no-any-return]
    usual = list(USUAL.get(name, []))
    if isinstance(param.type, click.Choice):
        usual += [str(choice) for choice in param.type.choices]
    elif isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
        usual += ["1", "0", "3"]
    return st.one_of(st.sampled_from(usual), _text) if usual else _text


def _arguments(path: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """Each of the command's arguments, any of its options, with usual or hostile values."""
    overrides = OVERRIDES.get(path, {})
    parts: list[st.SearchStrategy[list[str]]] = []
    for param in _find(path).params:
        if param.name == "directory":
            continue  # the base directory is given every time, after the arguments
        values = _values(param, overrides)
        if isinstance(param, click.Argument) and param.required:
            parts.append(values.map(lambda value: [value]))
        elif isinstance(param, click.Argument):  # RUN left out means the latest run
            parts.append(st.one_of(st.just([]), values.map(lambda value: [value])))
        elif getattr(param, "is_flag", False):
            parts.append(st.sampled_from([[], [param.opts[0]]]))
        elif param.required or param.name in overrides:
            parts.append(values.map(lambda value, opt=param.opts[0]: [opt, value]))
        else:
            parts.append(st.one_of(st.just([]), values.map(lambda v, o=param.opts[0]: [o, v])))
    return st.tuples(*parts).map(lambda drawn: [item for part in drawn for item in part])


def _assert_answered(argv: list[str], code: int, stderr: str) -> None:
    """A status of 0, 1 or 2, no traceback, and at most one error line, the last."""
    assert code in (0, 1, 2), (argv, code, stderr[-2000:])
    assert "Traceback" not in stderr, (argv, stderr[-2000:])
    assert "internal error" not in stderr, (argv, stderr[-2000:])
    errors = [line for line in stderr.splitlines() if line.startswith("spanline: error:")]
    assert len(errors) <= 1, (argv, stderr[-2000:])
    if errors:
        assert stderr.endswith(errors[0] + "\n"), (argv, stderr[-2000:])
    for line in stderr.splitlines():
        assert line.startswith("spanline: "), (argv, stderr[-2000:])


def _check(argv: list[str]) -> None:
    with _console_script_streams() as (out, err):
        code = main(argv)
    out.getvalue().decode("utf-8")  # what was printed is text
    _assert_answered(argv, code, err.getvalue().decode("utf-8"))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_a_command_answers_hostile_input_with_a_status_and_one_line(
    path: tuple[str, ...], template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [name for name in __import__("os").environ if name.startswith("SPANLINE_")]:
        monkeypatch.delenv(name)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(arguments=_arguments(path))
    def run(arguments: list[str]) -> None:
        base = tmp_path / "base"
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(template, base)
        argv = [*path, *(a.replace("{base}", str(base)) for a in arguments), "--dir", str(base)]
        _check(argv)

    run()


@pytest.mark.parametrize(
    ("code", "stderr"),
    [
        (3, ""),
        (1, "Traceback (most recent call last):\n"),
        (2, "spanline: error: unknown run 'a\nb'\n"),
        (2, "spanline: error: one\nspanline: error: two\n"),
        (1, "spanline: error: internal error: KeyError: 'x'\n"),
    ],
)
def test_the_assertions_can_fail(code: int, stderr: str) -> None:
    """What the fuzz asserts is not always true: each of these answers is refused."""
    with pytest.raises(AssertionError):
        _assert_answered(["x"], code, stderr)
    _assert_answered(["x"], 2, "spanline: error: unknown run 'x'\n")


def test_an_error_quoting_what_was_typed_stays_one_line(template: Path) -> None:
    """A newline, an escape sequence or a huge value in an argument the error quotes is shown
    escaped and cut, through the real console script: one line, no cursor moved."""
    from tests.cli._entry import spanline

    typed = "a\nb\x1b[2J" + "c" * 5000
    result = spanline("archive", "pull", "x", "--to", typed, "--dir", str(template))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr[:300]
    assert result.stderr.startswith("spanline: error: ") and "a\\nb\\x1b[2J" in result.stderr
    assert "\x1b" not in result.stderr and len(result.stderr) < 1000
