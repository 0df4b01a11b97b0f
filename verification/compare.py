"""Do the cells that verified the same pacts agree, interaction by interaction?

The matrix claims that one API behaves the same on every framework and Python. The cells
that verified the same pacts (the same consumers and content SHAs, whichever broker served
them) must therefore pass and fail the same interactions; a cell where an interaction is
missing disagrees too. A cell that cannot be compared (it verified no pacts, or no other
cell verified the same ones) is a hole in that claim, so it fails the comparison as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verification.results import CellResult


@dataclass(frozen=True)
class Disagreement:
    interaction: str
    # Each cell of the group and what it says of the interaction: passed, failed or missing.
    outcomes: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        by_outcome: dict[str, list[str]] = {}
        for cell, outcome in self.outcomes:
            by_outcome.setdefault(outcome, []).append(cell)
        return f"{self.interaction}: " + "; ".join(
            f"{outcome} in {', '.join(cells)}" for outcome, cells in by_outcome.items()
        )


@dataclass(frozen=True)
class Group:
    """Two or more cells that verified one set of pacts."""

    pacts: frozenset[str]
    cells: tuple[str, ...]
    interactions: int
    disagreements: tuple[Disagreement, ...]


@dataclass(frozen=True)
class Comparison:
    groups: tuple[Group, ...]
    # Cells no other cell can be held against, and why.
    not_compared: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        agreed = not any(group.disagreements for group in self.groups)
        return bool(self.groups) and agreed and not self.not_compared

    def verdict(self) -> str:
        """One line: what was compared and whether it agreed."""
        if not self.groups:
            return "nothing was compared: no two cells verified the same pacts"
        cells = sum(len(group.cells) for group in self.groups)
        interactions = sum(group.interactions for group in self.groups)
        disagreements = sum(len(group.disagreements) for group in self.groups)
        summary = (
            f"{cells} cells in {len(self.groups)} group(s) that verified the same pacts, "
            f"{interactions} interaction(s): "
        )
        summary += f"{disagreements} disagree" if disagreements else "every cell agrees"
        if self.not_compared:
            summary += f"; {len(self.not_compared)} cell(s) not compared"
        return summary

    def lines(self) -> list[str]:
        """The verdict, then each group, each disagreement and each cell left out."""
        lines = [self.verdict()]
        for number, group in enumerate(self.groups, start=1):
            lines.append(
                f"group {number}: {len(group.pacts)} pact(s), "
                f"{group.interactions} interaction(s), cells {', '.join(group.cells)}"
            )
            lines.extend(f"  DISAGREE {d.describe()}" for d in group.disagreements)
        lines.extend(f"not compared: {cell}: {why}" for cell, why in self.not_compared)
        return lines


def compare(results: Iterable[CellResult]) -> Comparison:
    by_pacts: dict[frozenset[str], list[CellResult]] = {}
    not_compared: list[tuple[str, str]] = []
    for result in results:
        contents = frozenset(pact.content for pact in result.pacts)
        if contents:
            by_pacts.setdefault(contents, []).append(result)
        else:
            why = result.error.strip().splitlines()[0] if result.error else "no error given"
            not_compared.append((result.cell, f"verified no pacts ({why})"))
    groups = []
    for contents, cells in by_pacts.items():
        if len(cells) == 1:
            not_compared.append((cells[0].cell, "no other cell verified the same pacts"))
        else:
            groups.append(_group(contents, cells))
    return Comparison(groups=tuple(groups), not_compared=tuple(not_compared))


def _group(contents: frozenset[str], cells: Sequence[CellResult]) -> Group:
    names = {i.key: i.name for cell in cells for i in cell.interactions}
    outcomes = [
        {i.key: "passed" if i.success else "failed" for i in cell.interactions} for cell in cells
    ]
    disagreements = []
    for key in sorted(names):
        said = tuple(
            (cell.cell, outcome.get(key, "missing"))
            for cell, outcome in zip(cells, outcomes, strict=True)
        )
        if len({what for _, what in said}) > 1:
            disagreements.append(Disagreement(interaction=names[key], outcomes=said))
    return Group(
        pacts=contents,
        cells=tuple(cell.cell for cell in cells),
        interactions=len(names),
        disagreements=tuple(disagreements),
    )
