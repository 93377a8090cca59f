"""The pipeline's numbers for GET /metrics, read from PostgreSQL and Redis at each
scrape through the selectors of tasks.metrics (the ones /api/metrics shows), so every
web process answers the same. A source that cannot answer leaves its metrics out and
says so in `contentpipeline_metrics_source_up{source=...}`: the page is still served.
"""

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from contentpipeline.cache import cache_stats
from contentpipeline.prometheus import PREFIX

from .interfaces import decision_timings
from .metrics import (
    DECISION_WAIT_BOUNDS,
    broker_queue_lengths,
    queue_depth_by_priority,
    reviews_overdue,
    stage_duration_histogram,
    tasks_by_status,
    usage_by_stage_and_model,
)

logger = logging.getLogger(__name__)

# Seconds; a stage with the offline provider takes milliseconds, with a real model
# seconds to minutes (PIPELINE_STAGE_TIME_LIMIT is 600 by default).
STAGE_DURATION_BOUNDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class PipelineCollector:
    def describe(self) -> list[Metric]:
        return []  # nothing to read at registration: the database may not be there yet

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_metrics_source_up",
            "1 when the source answered this scrape, 0 when its metrics are left out.",
            labels=["source"],
        )
        try:
            families = list(self._database())
        except DatabaseError as exc:
            logger.warning("Metrics: the database did not answer (%s)", exc.__class__.__name__)
            up.add_metric(["database"], 0)
        else:
            yield from families
            up.add_metric(["database"], 1)

        broker = broker_queue_lengths()
        if isinstance(broker, dict):
            messages = GaugeMetricFamily(
                f"{PREFIX}_broker_queue_messages",
                "Run messages waiting in the broker, by task priority.",
                labels=["priority"],
            )
            for priority, length in broker.items():
                messages.add_metric([priority], length)
            yield messages
        up.add_metric(["broker"], 1 if isinstance(broker, dict) else 0)

        stats = cache_stats()
        if stats["hits"] is not None:
            yield CounterMetricFamily(
                f"{PREFIX}_cache_hits", "This app's cache lookups that found an entry.",
                value=stats["hits"],
            )  # fmt: skip
            yield CounterMetricFamily(
                f"{PREFIX}_cache_misses", "This app's cache lookups that found none.",
                value=stats["misses"],
            )  # fmt: skip
        up.add_metric(["cache"], 0 if stats["hits"] is None else 1)
        yield up

    def _database(self) -> Iterator[Metric]:
        tasks = GaugeMetricFamily(
            f"{PREFIX}_tasks", "Tasks by status (deleted ones left out).", labels=["status"]
        )
        for status, n in tasks_by_status().items():
            tasks.add_metric([status], n)
        yield tasks

        waiting = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "Pending tasks by priority.", labels=["priority"]
        )
        for priority, n in queue_depth_by_priority().items():
            waiting.add_metric([priority], n)
        yield waiting

        durations = HistogramMetricFamily(
            f"{PREFIX}_stage_duration_seconds",
            "Duration of succeeded stage runs, by stage.",
            labels=["stage"],
        )
        for stage, histogram in sorted(stage_duration_histogram(STAGE_DURATION_BOUNDS).items()):
            bounds = zip(STAGE_DURATION_BOUNDS, histogram.cumulative, strict=True)
            buckets = [(floatToGoString(bound), n) for bound, n in bounds]
            buckets.append(("+Inf", histogram.count))
            durations.add_metric([stage], buckets, sum_value=histogram.total_seconds)
        yield durations

        runs = CounterMetricFamily(
            f"{PREFIX}_stage_runs", "Stage runs (attempts), by stage and model.",
            labels=["stage", "model"],
        )  # fmt: skip
        cost = CounterMetricFamily(
            f"{PREFIX}_stage_cost_usd", "What stage runs cost, by stage and model.",
            labels=["stage", "model"],
        )  # fmt: skip
        tokens = CounterMetricFamily(
            f"{PREFIX}_stage_tokens", "Model tokens of stage runs, by stage, model and direction.",
            labels=["stage", "model", "direction"],
        )  # fmt: skip
        for row in usage_by_stage_and_model():
            labels = [row["stage"], row["model"]]
            runs.add_metric(labels, row["runs"])
            cost.add_metric(labels, float(row["cost"] or 0))
            tokens.add_metric([*labels, "in"], row["tokens_in"] or 0)
            tokens.add_metric([*labels, "out"], row["tokens_out"] or 0)
        yield from (runs, cost, tokens)

        yield GaugeMetricFamily(
            f"{PREFIX}_reviews_overdue",
            "Tasks awaiting review (a draft or a plan) past their due_at.",
            value=reviews_overdue(),
        )
        waits = HistogramMetricFamily(
            f"{PREFIX}_review_decision_wait_seconds",
            "Time from a draft awaiting approval to each decision on it, by decision.",
            labels=["decision"],
        )
        for decision, histogram in sorted(decision_timings()(DECISION_WAIT_BOUNDS).items()):
            bounds = zip(DECISION_WAIT_BOUNDS, histogram.cumulative, strict=True)
            buckets = [(floatToGoString(bound), n) for bound, n in bounds]
            buckets.append(("+Inf", histogram.count))
            waits.add_metric([decision], buckets, sum_value=histogram.total_seconds)
        yield waits
