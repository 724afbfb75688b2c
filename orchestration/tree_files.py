"""Tree files read offline: `load_tree_file` gives what `Runtime.up` starts, and
`validate_tree_file` checks one for ``orchestration tree validate`` (no daemon needed).

The file format itself is `orchestration.supervision.tree`'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestration.messages import RoomSpec, SupervisorNode, WorkflowSpec

__all__ = ["TreeFile", "load_tree_file", "validate_tree_file"]


@dataclass(frozen=True)
class TreeFile:
    """A tree file as `Runtime.up` starts it: its tree, then the rooms of its
    ``conversations:``, in file order."""

    supervisor: SupervisorNode
    rooms: tuple[RoomSpec, ...] = ()
    workflows: tuple[WorkflowSpec, ...] | None = None
    """The file's ``workflows:`` (None: not from a file, so leave the declared ones alone)."""


def load_tree_file(
    path: str | os.PathLike[str],
) -> tuple[TreeFile | None, list[tuple[str, str]]]:
    """Read a tree file offline: ``(tree file, [])``, or ``(None, problems)`` where each
    problem is ``(path in the file, message)``, with an empty path for the whole file."""
    from orchestration.supervision.tree import TreeConfigError, load_tree

    try:
        config = load_tree(path)
    except TreeConfigError as exc:
        return None, list(exc.problems)
    node = config.to_node(Path(path).resolve().parent)
    return TreeFile(node, config.to_rooms(), config.to_workflows()), []


def validate_tree_file(path: str | os.PathLike[str]) -> tuple[str, list[tuple[str, str]]]:
    """Check a tree config file offline (no daemon): ``(summary, problems)``.

    The summary counts the tree and its conversations (``2 supervisors, 5 agents, 1
    conversation``) and is empty when there are problems; each problem is ``(path in the
    file, message)``, with an empty path for the file.
    """
    from orchestration.supervision.tree import TreeConfigError, load_tree

    try:
        return load_tree(path).summary(), []
    except TreeConfigError as exc:
        return "", list(exc.problems)
