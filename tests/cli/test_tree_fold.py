"""The span-tree fold: one pass, any chunking, cut by agent, errors, depth and a node cap."""

from __future__ import annotations

from typing import Any

from spanline.folds.tree import TreeFold


def _start(sid: str, parent: str | None, name: str, kind: str = "x", **attrs: Any) -> dict:
    return {"event": "span_start", "span_id": sid, "parent": parent, "name": name,
            "kind": kind, "ts": 1.0, "component": None, "attributes": attrs}  # fmt: skip


def _end(sid: str, status: str = "ok", **extra: Any) -> dict:
    return {"event": "span_end", "span_id": sid, "status": status, "duration_ms": 2.5,
            "tokens": 3, "tool_uses": 0, "ts": 2.0, "attributes": {}, **extra}  # fmt: skip


EVENTS = [
    {"event": "run_start", "ts": 0.0},
    _start("r", None, "root", "run"),
    _start("a", "r", "agent-a", "agent", **{"gen_ai.agent.id": "A"}),
    _start("t1", "a", "tool.read", "tool", **{"tool.name": "read"}),
    _end("t1"),
    _start("t2", "a", "tool.write", "tool"),
    _end("t2", "error", error={"type": "OSError", "message": "disk full"}),
    _end("a", "error", error={"type": "OSError", "message": "disk full"}),
    _start("b", "r", "agent-b", "agent", **{"gen_ai.agent.id": "B"}),
    _start("t3", "b", "tool.read", "tool"),
    _end("t3"),
    _end("b"),
    _start("o", "missing-parent", "orphan"),
]


def _names(nodes: list[Any]) -> list[Any]:
    return [(n.name, _names(n.children)) if n.children else n.name for n in nodes]


def test_any_chunking_gives_the_same_tree() -> None:
    whole = TreeFold()
    whole.extend(EVENTS)
    pieces = TreeFold()
    for event in EVENTS:
        pieces.add(event)
    assert (
        whole.result().select(depth=None).to_dict() == pieces.result().select(depth=None).to_dict()
    )


def test_full_tree_status_tokens_and_open_spans() -> None:
    fold = TreeFold()
    fold.extend(EVENTS)
    tree = fold.result()
    assert len(tree) == 7
    view = tree.select(depth=None, limit=None)
    assert _names(view.roots) == [
        ("root", [("agent-a", ["tool.read", "tool.write"]), ("agent-b", ["tool.read"])]),
        "orphan",  # its parent was never read: drawn as a root
    ]
    agent_a = view.roots[0].children[0]
    assert agent_a.status == "error" and agent_a.error_message == "disk full"
    assert agent_a.tokens == 3 and agent_a.attributes == {"gen_ai.agent.id": "A"}
    assert view.roots[1].status == "open" and view.roots[1].duration_ms is None
    assert (view.in_scope, view.drawn, view.below_depth, view.over_limit) == (7, 7, 0, 0)


def test_depth_and_limit_count_what_is_left_out() -> None:
    fold = TreeFold()
    fold.extend(EVENTS)
    tree = fold.result()
    shallow = tree.select(depth=2)
    assert [child.hidden for child in shallow.roots[0].children] == [2, 1]
    assert (shallow.drawn, shallow.below_depth, shallow.over_limit) == (4, 3, 0)
    capped = tree.select(depth=None, limit=3)
    assert _names(capped.roots) == [("root", [("agent-a", ["tool.read"])])]
    assert (capped.drawn, capped.over_limit) == (3, 4)


def test_errors_only_and_agent_subtrees() -> None:
    fold = TreeFold()
    fold.extend(EVENTS)
    tree = fold.result()
    errors = tree.select(depth=None, errors_only=True)
    assert _names(errors.roots) == [("root", [("agent-a", ["tool.write"])])]
    assert errors.in_scope == 3
    (agent,) = tree.agent_roots("B")
    view = tree.select(roots=[agent], depth=None)
    assert _names(view.roots) == [("agent-b", ["tool.read"])]
    assert tree.agent_roots("t1") == ["t1"] and tree.agent_roots("nobody") == []
    assert view.to_dict()["roots"][0]["children"][0]["error"] is None


def test_an_end_before_its_start_is_kept() -> None:
    fold = TreeFold()
    fold.extend([_end("x", "error", error="boom"), _start("x", None, "late")])
    (node,) = fold.result().select().roots
    assert node.status == "error" and node.error_message == "boom"
