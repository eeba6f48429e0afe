"""The dashboard's weekly chart: a few series over the weeks, as braille lines (textual-plotext).

Week labels are thinned to what the width can hold without two labels touching: plotext draws
colliding tick labels in an order that depends on Python's string hashing, so a crowded axis
would read differently from one run to the next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

from rich.console import RenderableType
from textual_plotext import PlotextPlot

Y_AXIS_CELLS = 8  # the y axis, its labels and the frame on the left and the right


@dataclass(frozen=True)
class Series:
    label: str
    values: list[int]
    color: str


def week_label(start: dt.date) -> str:
    """A week by its Monday: '16 Nov'."""
    return f"{start:%d %b}"


def y_ticks(top: int, intervals: int = 4) -> list[int]:
    """Whole-number ticks from 0 to at least `top` (weekly counts are whole numbers)."""
    step = max(1, -(-top // intervals))
    return [step * i for i in range(intervals + 1)]


def label_step(weeks: int, width: int, label_width: int = 6) -> int:
    """Every how many weeks a label fits, on a chart `width` cells wide."""
    cells_per_week = max(width - Y_AXIS_CELLS, 1) / max(weeks - 1, 1)
    step = 1
    while step * cells_per_week < label_width + 2 and step < weeks:
        step += 1
    return step


class WeeklyChart(PlotextPlot):
    """Lines over weeks; `draw` sets the data, each render fits the labels to the width."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.weeks: list[dt.date] = []
        self.series: list[Series] = []

    def draw(self, weeks: list[dt.date], series: list[Series]) -> None:
        self.weeks, self.series = weeks, series
        self.refresh()

    def render(self) -> RenderableType:
        plt = self.plt
        plt.clear_data()
        if self.weeks:
            xs = list(range(1, len(self.weeks) + 1))
            top = 0
            for line in self.series:
                top = max(top, *line.values)
                total = f"{line.label} {sum(line.values):,}"
                plt.plot(xs, line.values, label=total, color=line.color, marker="braille")
            step = label_step(len(xs), self.size.width)
            last = len(xs) - 1  # label the latest week, and every step-th before it
            shown = [i for i in range(len(xs)) if (last - i) % step == 0]
            plt.xticks([xs[i] for i in shown], [week_label(self.weeks[i]) for i in shown])
            plt.xlim(1, len(xs))
            ticks = y_ticks(top)
            plt.ylim(0, ticks[-1])
            plt.yticks([float(t) for t in ticks], [f"{t:,}" for t in ticks])
        return cast(RenderableType, super().render())
