"""A small line chart computed on the server and drawn as inline SVG (no JavaScript needed)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 640, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 12, 12, 26


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str = ""
    at: datetime | None = None  # x axis: formatted by the template in the user's locale
    anchor: str = "middle"


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    points: str  # the polyline's "x,y x,y ..."
    threshold_y: float
    threshold: float
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    last_x: float
    last_y: float
    last_value: float
    first_value: float
    plot_left: int
    plot_right: int
    plot_bottom: int


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"


def line_chart(series: Sequence[tuple[datetime, float]], *, threshold: float) -> LineChart | None:
    """Scale (time, value) pairs, oldest first, into the SVG's coordinates, with the threshold."""
    if len(series) < 2:
        return None
    values = [value for _, value in series]
    low = min(0.0, *values)
    high = max(threshold, *values)
    if high == low:
        high = low + 1
    high += (high - low) * 0.08  # headroom above the top value
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(index: int) -> float:
        return round(PAD_LEFT + plot_w * index / (len(series) - 1), 1)

    def y(value: float) -> float:
        return round(PAD_TOP + plot_h * (high - value) / (high - low), 1)

    points = " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values))
    top = max(values)
    marks = {low, threshold}
    if top > threshold * 1.15 or top < threshold * 0.85:  # far enough not to overlap
        marks.add(top)
    y_ticks = [Tick(PAD_LEFT - 6, y(v), _number(v)) for v in sorted(marks)]
    last = len(series) - 1
    step = max(1, last // 3)
    x_ticks = [
        Tick(
            x(i),
            HEIGHT - 8,
            at=series[i][0],
            anchor="end" if i == last else "start" if i == 0 else "middle",
        )
        for i in sorted({*range(0, last, step), last})
        if i == last or last - i >= step / 2  # keep the last date clear of the one before
    ]
    return LineChart(
        width=WIDTH,
        height=HEIGHT,
        points=points,
        threshold_y=y(threshold),
        threshold=threshold,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        last_x=x(len(series) - 1),
        last_y=y(values[-1]),
        last_value=values[-1],
        first_value=values[0],
        plot_left=PAD_LEFT,
        plot_right=WIDTH - PAD_RIGHT,
        plot_bottom=HEIGHT - PAD_BOTTOM,
    )
