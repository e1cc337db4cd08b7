"""The span-tree fold: one pass, any chunking, cut by agent, errors, depth and a node cap."""

from __future__ import annotations

import random
from typing import Any

import pytest

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


def test_an_agent_is_found_by_its_span_name_when_no_id_matches() -> None:
    """An agent opened with ``tracer.span(kind=...)`` has no agent id, and the text
    tree shows no span ids: its name, which the tree does show, finds it too."""
    fold = TreeFold()
    fold.extend(EVENTS)
    tree = fold.result()
    assert tree.agent_roots("agent-b") == ["b"]
    assert tree.agent_roots("tool.read") == ["t1", "t3"]  # every span of that name
    assert tree.agent_roots("A") == ["a"]  # an id still wins over a name


@pytest.mark.parametrize("levels", [None, 1, 2])
def test_a_node_sums_the_tokens_of_its_whole_subtree_drawn_or_not(levels: int | None) -> None:
    """An agent's own tokens are 0 when its LLM calls hold them: the tree also says
    what its subtree spent, the per-agent figure of the summary and the dashboard."""
    fold = TreeFold(depth=levels)
    fold.extend(EVENTS)
    (root, orphan) = fold.result().select(depth=1).roots
    assert (root.name, root.tokens, root.subtree_tokens) == ("root", 0, 15)  # no end line
    assert (orphan.tokens, orphan.subtree_tokens) == (0, 0)
    assert root.to_dict()["subtree_tokens"] == 15


def test_an_end_before_its_start_is_kept() -> None:
    fold = TreeFold()
    fold.extend([_end("x", "error", error="boom"), _start("x", None, "late")])
    (node,) = fold.result().select().roots
    assert node.status == "error" and node.error_message == "boom"


def _random_run(seed: int) -> list[dict]:
    """A random tree's lines, some children started before their parents, some parents lost."""
    rng = random.Random(seed)
    ids = [f"s{n}" for n in range(rng.randint(1, 60))]
    parents = {sid: (None if n == 0 or rng.random() < 0.1 else rng.choice(ids[:n]))
               for n, sid in enumerate(ids)}  # fmt: skip
    lost = {sid for sid in ids if rng.random() < 0.05}
    events: list[dict] = []
    for sid in ids:
        if sid not in lost:
            events.append(_start(sid, parents[sid], f"n-{sid}", **{"gen_ai.agent.id": sid}))
        if rng.random() < 0.8:
            status = "error" if rng.random() < 0.1 else "ok"
            events.append(_end(sid, status, error="boom" if status == "error" else None))
    for _ in range(rng.randint(0, 8)):  # two processes: lines out of file order
        i, j = rng.randrange(len(events)), rng.randrange(len(events))
        events[i], events[j] = events[j], events[i]
    return events


@pytest.mark.parametrize("seed", range(200))
def test_a_depth_limited_fold_draws_exactly_what_the_whole_fold_draws(seed: int) -> None:
    events = _random_run(seed)
    whole = TreeFold()
    whole.extend(events)
    full = whole.result()
    for levels in (1, 2, 3):
        cut = TreeFold(depth=levels)
        for start in range(0, len(events), 7):  # any chunking
            cut.extend(events[start : start + 7])
        tree = cut.result()
        assert len(tree) == len(full)
        for depth in range(1, levels + 1):
            for limit in (None, 5, 500):
                expected = full.select(depth=depth, limit=limit).to_dict()
                assert tree.select(depth=depth, limit=limit).to_dict() == expected


def test_a_depth_limited_tree_refuses_cuts_it_cannot_make() -> None:
    fold = TreeFold(depth=2)
    fold.extend(EVENTS)
    tree = fold.result()
    assert tree.select(depth=2).to_dict() == _whole().select(depth=2).to_dict()
    for cut in ({"depth": 3}, {"depth": None}, {"errors_only": True}, {"roots": ["r"]}):
        with pytest.raises(ValueError, match="keeps 2 level"):
            tree.select(**cut)
    with pytest.raises(ValueError, match="keeps 2 level"):
        tree.agent_roots("A")
    with pytest.raises(ValueError, match="at least 1"):
        TreeFold(depth=0)


def test_result_of_a_depth_limited_fold_does_not_change_it() -> None:
    """result() places orphans as roots in a copy: a parent read later still adopts them."""
    fold = TreeFold(depth=2)
    fold.extend([_start("c", "p", "child"), _start("g", "c", "grandchild")])
    early = fold.result().select(depth=2)
    assert _names(early.roots) == [("child", ["grandchild"])]
    fold.extend([_start("p", None, "parent")])
    late = fold.result().select(depth=2)
    assert _names(late.roots) == [("parent", ["child"])]
    assert late.roots[0].children[0].hidden == 1


def _whole() -> Any:
    fold = TreeFold()
    fold.extend(EVENTS)
    return fold.result()
