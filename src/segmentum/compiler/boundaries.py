"""Stored boundaries for relative thresholds (RFM scores, percentiles).

A ranking orders customers by ``(value, customer_id)``; a score or a percentile flag depends
only on the customer's position against a few cut positions. At a *recomputation* (a full
refresh) the keys at those positions are stored: ``compile_all_boundaries`` → one query for
every ranking, over the ranked measures only → ``boundaries_from_table`` (``compile_boundaries``,
one query per ranking over the whole feature relation, is the reference it is tested against);
between recomputations a customer's score is ``1 + #{cuts <= (value, customer_id)}`` and a
percentile flag one comparison (``apply_boundaries``), so one purchase moves one customer
and nobody else is re-ranked. At the recomputation instant both ways give the same result.

Keys are chosen so they do not drift with the calendar: the R score ranks the last order's
local date (ascending = recency descending), not ``recency_days``; a percentile of the metric
``recency_days`` stores the day it was computed and shifts its cut by the days elapsed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import ibis

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler.errors import InvalidSegmentsError
from segmentum.compiler.features import Features, PercentileKey
from segmentum.compiler.lower import Lowerer
from segmentum.compiler.predictive import PREDICTIONS_TABLE
from segmentum.compiler.validate import validate
from segmentum.compiler.windows import EVER, Bounds, Clock
from segmentum.spec.nodes import ManualList, Node, walk

SCORES = ("r", "f", "m")


class MissingBoundariesError(LookupError):
    """A ranking has no stored boundaries yet: recompute them (a full refresh does)."""


@dataclass(frozen=True)
class Boundary:
    """One ranking's stored cut keys.

    ``kind`` ``score``: ``cuts[s-2]`` is the first key with score >= s (None: nobody);
    ``top``: flag = key >= cuts[0] (no cut: nobody); ``bottom``: flag = key < cuts[0] (no cut:
    nobody, unless ``everyone``). ``day`` is the local date of the recomputation."""

    kind: str
    n: int
    cuts: tuple[tuple[Any, str] | None, ...]
    day: date
    everyone: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "n": self.n,
                "day": self.day.isoformat(),
                "everyone": self.everyone,
                "cuts": [None if cut is None else [_encode(cut[0]), cut[1]] for cut in self.cuts],
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Boundary:
        data = json.loads(text)
        return cls(
            kind=data["kind"],
            n=int(data["n"]),
            cuts=tuple(
                None if cut is None else (_decode(cut[0]), str(cut[1])) for cut in data["cuts"]
            ),
            day=date.fromisoformat(data["day"]),
            everyone=bool(data["everyone"]),
        )


def _encode(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["bool", str(value)]
    if isinstance(value, datetime):
        return ["timestamp", value.isoformat()]
    if isinstance(value, date):
        return ["date", value.isoformat()]
    if isinstance(value, Decimal):
        return ["decimal", str(value)]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    return ["str", str(value)]


def _decode(pair: Sequence[str]) -> Any:
    kind, text = pair
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "timestamp":
        return datetime.fromisoformat(text)
    if kind == "decimal":
        return Decimal(text)
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text == "True"
    return text


# --- naming -------------------------------------------------------------------------------------


def score_name(score: str, bins: int) -> str:
    return f"rfm:{score}:k{bins}"


def _relative(bounds: Bounds, today: date, as_of: datetime) -> tuple[Any, ...]:
    """Bounds as offsets from D / as_of, so the same window has one name every day."""
    return (
        None if bounds.date_lo is None else (bounds.date_lo - today).days,
        None if bounds.date_hi is None else (bounds.date_hi - today).days,
        None if bounds.ts_lo is None else (bounds.ts_lo - as_of).total_seconds(),
        None if bounds.ts_hi is None else (bounds.ts_hi - as_of).total_seconds(),
        bounds.since_signup,
    )


def percentile_name(key: PercentileKey, features: Features) -> str:
    measure = key.measure
    if measure.metric is not None:
        what: Any = ("metric", measure.metric)
    else:
        agg = measure.agg
        assert agg is not None
        clock = features.clock
        what = (
            "agg",
            agg.source,
            [item.model_dump_json() for item in agg.filters],
            _relative(agg.bounds, clock.today, clock.as_of_utc),
            agg.function,
            agg.field,
        )
    raw = json.dumps([what, key.direction, str(key.percent)], sort_keys=True, default=str)
    return "pct:" + hashlib.sha256(raw.encode()).hexdigest()[:20]


def needed(features: Features) -> dict[str, str]:
    """The rankings a compilation uses: name → kind."""
    out: dict[str, str] = {}
    if features.metrics & {"r_score", "f_score", "m_score"}:
        for score in SCORES:
            out[score_name(score, features.settings.rfm.bins)] = "score"
    for key in features.percentiles:
        out[percentile_name(key, features)] = key.direction
    return out


# --- values -------------------------------------------------------------------------------------


def _last_order(features: Features, rel: Any) -> Any:
    from segmentum.compiler.features import AggKey

    return rel[features.aggs[AggKey("orders", (), EVER, "max", "local_date")]]


def _score_value(features: Features, rel: Any, score: str) -> Any:
    if score == "r":
        return _last_order(features, rel)
    return rel.m_frequency if score == "f" else rel.m_monetary


def _percentile_value(features: Features, rel: Any, key: PercentileKey) -> Any:
    return rel[features.measures[key.measure]]


# --- recomputation ------------------------------------------------------------------------------


def _positions(kind: str, n: Any, bins: int, percent: Any) -> list[Any]:
    if kind == "score":
        return [((s - 1) * (n - 1)) // bins + 1 for s in range(2, bins + 1)]
    num, den = percent.numerator, percent.denominator * 100
    c = (n * num + (den - 1)) // den
    return [n - c] if kind == "top" else [c]


def boundary_queries(features: Features, rel: Any) -> dict[str, tuple[str, Any]]:
    """Per ranking: its kind and a query of the rows at the cut positions (and position 0):
    ``i, n, v, customer_id``. ``rel`` is the built feature relation."""
    bins = features.settings.rfm.bins
    out: dict[str, tuple[str, Any]] = {}
    items: list[tuple[str, str, Any, Any]] = []
    if features.metrics & {"r_score", "f_score", "m_score"}:
        scored = _last_order(features, rel).notnull()
        for score in SCORES:
            items.append((score_name(score, bins), "score", _score_value(features, rel, score),
                          scored))  # fmt: skip
    for key in features.percentiles:
        value = _percentile_value(features, rel, key)
        items.append((percentile_name(key, features), key.direction, value, key.percent))
    for name, kind, value, extra in items:
        narrow = rel.select(customer_id=rel.customer_id, v=value)
        if kind == "score":
            narrow = rel.filter(extra).select(customer_id=rel.customer_id, v=value)
        narrow = narrow.filter(narrow.v.notnull())
        ranked = narrow.select(
            "customer_id",
            "v",
            i=ibis.row_number().over(order_by=[narrow.v, narrow.customer_id]),
            n=narrow.customer_id.count().over(),
        )
        wanted = _positions(kind, ranked.n, bins, None if kind == "score" else extra)
        picked = ranked.filter(ibis.or_(ranked.i == 0, *[ranked.i == p for p in wanted]))
        out[name] = (kind, picked.select("i", "n", "v", "customer_id"))
    return out


def boundary_from_rows(
    kind: str, rows: Sequence[Mapping[str, Any]], bins: int, percent: Any, day: date
) -> Boundary:
    """The stored form of one ranking from its query's rows (see ``boundary_queries``)."""
    if not rows:
        return Boundary(kind, 0, (None,) * (bins - 1) if kind == "score" else (), day)
    n = int(rows[0]["n"])
    at = {int(row["i"]): (row["v"], str(row["customer_id"])) for row in rows}
    if kind == "score":
        cuts = tuple(at.get(p) if p <= n - 1 else None for p in _positions("score", n, bins, None))
        return Boundary(kind, n, cuts, day)
    (position,) = _positions(kind, n, bins, percent)
    if kind == "top":
        return Boundary(kind, n, (at[position],) if 0 < n - position <= n else (), day)
    if position >= n:
        return Boundary(kind, n, (), day, everyone=True)
    return Boundary(kind, n, (at[position],) if position > 0 else (), day)


def percent_of(features: Features, name: str) -> Any:
    for key in features.percentiles:
        if percentile_name(key, features) == name:
            return key.percent
    return None


# --- evaluation with stored boundaries ------------------------------------------------------------


def _at_least(value: Any, cid: Any, cut: tuple[Any, str]) -> Any:
    literal = ibis.literal(cut[0], type=value.type())
    return (value > literal) | ((value == literal) & (cid >= ibis.literal(cut[1], type="string")))


def _boundary(boundaries: Mapping[str, Boundary], name: str) -> Boundary:
    found = boundaries.get(name)
    if found is None:
        raise MissingBoundariesError(f"no stored boundaries for {name}")
    return found


def apply_boundaries(features: Features, rel: Any, boundaries: Mapping[str, Boundary]) -> Any:
    """``m_r_score``, ``m_f_score``, ``m_m_score`` and every percentile flag from stored cuts."""
    columns = boundary_columns(features, rel, boundaries)
    return rel.mutate(**columns) if columns else rel


def boundary_columns(
    features: Features, rel: Any, boundaries: Mapping[str, Boundary]
) -> dict[str, Any]:
    """The expressions of :func:`apply_boundaries` over ``rel``, by column name."""
    columns: dict[str, Any] = {}
    if features.metrics & {"r_score", "f_score", "m_score"}:
        bins = features.settings.rfm.bins
        scored = _last_order(features, rel).notnull()
        for score in SCORES:
            stored = _boundary(boundaries, score_name(score, bins))
            value = _score_value(features, rel, score)
            total = ibis.literal(1)
            for cut in stored.cuts:
                if cut is not None:
                    total = total + ibis.ifelse(
                        _at_least(value, rel.customer_id, cut).fill_null(False), 1, 0
                    )
            columns[f"m_{score}_score"] = ibis.ifelse(scored, total, ibis.null("int64")).cast(
                "int64"
            )
    for key, column in features.percentiles.items():
        stored = _boundary(boundaries, percentile_name(key, features))
        value = _percentile_value(features, rel, key)
        cut = stored.cuts[0] if stored.cuts else None
        if cut is not None and key.measure.metric == "recency_days":
            shift = (features.clock.today - stored.day).days
            cut = (cut[0] + shift, cut[1])
        if cut is None:
            flag = value.notnull() if stored.everyone else ibis.literal(False)
        else:
            above = _at_least(value, rel.customer_id, cut)
            flag = above if stored.kind == "top" else ~above
            flag = value.notnull() & flag
        columns[column] = flag.fill_null(False)
    return columns


@dataclass
class BoundedFeatures(Features):
    """The feature relation with RFM scores and percentile flags from stored boundaries
    instead of window ranks over the whole universe (so it can be built over a few customers).

    Percentile flags keep the rank columns' contract of :class:`Features` (``<p>_i`` and
    ``<p>_n``, flag = ``i >= n − c`` for top, ``i < c`` for bottom): a flagged customer gets
    the position that passes (``n + 1`` top, ``−1`` bottom), the others the one that fails."""

    boundaries: Mapping[str, Boundary] = field(default_factory=dict)

    def _join_ranks(self, rel: Any) -> Any:
        scores = bool(self.metrics & {"r_score", "f_score", "m_score"})
        flags: dict[str, Any] = {}
        computed = boundary_columns(self, rel, self.boundaries)
        if self.percentiles:
            for key, name in self.percentiles.items():
                stored = _boundary(self.boundaries, percentile_name(key, self))
                n = ibis.literal(stored.n, type="int64")
                passed = computed[name]
                if key.direction == "top":
                    position = ibis.ifelse(passed, n + 1, ibis.literal(-1, type="int64"))
                else:
                    position = ibis.ifelse(passed, ibis.literal(-1, type="int64"), n + 1)
                flags[f"{name}_i"] = position
                flags[f"{name}_n"] = n
        if scores:
            flags.update({f"m_{s}_score": computed[f"m_{s}_score"] for s in SCORES})
        return rel.mutate(**flags) if flags else rel


def _list_names(definitions: Mapping[str, Node]) -> set[str]:
    return {
        each.list_name
        for node in definitions.values()
        for each in walk(node)
        if isinstance(each, ManualList)
    }


def _lowered(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Any],
    as_of: datetime,
    boundaries: Mapping[str, Boundary] | None,
) -> tuple[Features, dict[str, Any]]:
    from segmentum.compiler.program import prepare

    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be a timezone-aware instant")
    issues = validate(definitions, catalog, settings, _list_names(definitions),
                      predictions=PREDICTIONS_TABLE in tables)  # fmt: skip
    if issues:
        raise InvalidSegmentsError(issues)
    clock = Clock(as_of, settings.timezone)
    features: Features = (
        Features(catalog, settings, tables, clock)
        if boundaries is None
        else BoundedFeatures(catalog, settings, tables, clock, boundaries=boundaries)
    )
    lowerer = Lowerer(features)
    predicates = {name: lowerer.lower(node) for name, node in prepare(definitions).items()}
    return features, predicates


def compile_segments_bounded(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Any],
    as_of: datetime,
    boundaries: Mapping[str, Boundary],
) -> Any:
    """``compile_segments`` with relative thresholds from ``boundaries`` (raises
    :class:`MissingBoundariesError` when one is missing)."""
    features, predicates = _lowered(definitions, catalog, settings, tables, as_of, boundaries)
    rel = features.build()
    columns = {name: predicate(rel).fill_null(False) for name, predicate in predicates.items()}
    return rel.select(rel.customer_id, **columns)


def compile_boundaries(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Any],
    as_of: datetime,
) -> dict[str, tuple[str, Any, Any]]:
    """Per ranking the definitions use: kind, the query of its cut rows, and the percent
    (None for scores). ``boundary_from_rows`` turns a query's rows into a :class:`Boundary`."""
    features, _ = _lowered(definitions, catalog, settings, tables, as_of, None)
    rel = features.build()
    return {
        name: (kind, query, percent_of(features, name))
        for name, (kind, query) in boundary_queries(features, rel).items()
    }


# --- every ranking in one query -----------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """One ranking of a recomputation: its stored name, kind, percent (None for scores) and
    the suffix of its columns in :func:`all_boundaries_query` (``v_``, ``i_``, ``n_``)."""

    name: str
    kind: str
    percent: Any
    column: str


@dataclass
class _RankedMeasures(Features):
    """The features the rankings read (the order aggregates behind r/f/m, the percentile
    measures) and nothing else: no window ranks, no other definition's aggregates."""

    def _join_ranks(self, rel: Any) -> Any:
        return rel


def _ranked_measures(features: Features) -> _RankedMeasures:
    narrow = _RankedMeasures(features.catalog, features.settings, features.tables,
                             features.clock, customer_columns=("customer_id",))  # fmt: skip
    if features.metrics & {"r_score", "f_score", "m_score"}:
        narrow.metric("r_score")  # the order aggregates, recency, frequency, monetary
    for key in features.percentiles:
        narrow.measure(key.measure)
    return narrow


def all_boundaries_query(features: Features) -> tuple[list[Ranking], Any]:
    """Every ranking ``features`` uses, in one query over one build of the ranked measures.

    Rows: ``customer_id`` and, per ranking (``Ranking.column`` = c), ``v_c`` (the value;
    NULL when the row is not at one of this ranking's positions), ``i_c`` (the 0-based
    position in the order by (value, customer_id)) and ``n_c`` (how many are ranked), for
    the customers at the cut positions (and position 0) of :func:`boundary_queries`.

    No window sorts every customer (as ``Features._scores_by_value_groups``): the customers
    sharing a value hold the consecutive positions below .. below + count − 1, ``below`` a
    running sum over the distinct values (a small table per ranking), so a cut position
    falls in one value group, found without sorting anybody. Only the customers of the
    groups a cut falls in are ranked by customer_id, within their group (one window for
    every ranking); position 0 is the least customer_id of the first group (an aggregate).
    The measures are one relation, a common table expression, that every part reads."""
    bins = features.settings.rfm.bins
    narrow = _ranked_measures(features)
    rel = narrow.build()
    values: dict[str, Any] = {}  # ranking column -> its value (NULL: not ranked there)
    rankings: list[Ranking] = []
    if features.metrics & {"r_score", "f_score", "m_score"}:
        last = _last_order(narrow, rel)
        scored = last.notnull()  # f and m are 0 without orders: unscored all the same
        # r ranks the last order's date ascending (recency in days descending)
        money = ibis.null(rel.m_monetary.type())
        values.update(r=last, f=ibis.ifelse(scored, rel.m_frequency, ibis.null("int64")),
                      m=ibis.ifelse(scored, rel.m_monetary, money))  # fmt: skip
        for score in SCORES:
            rankings.append(Ranking(score_name(score, bins), "score", None, score))
    for index, key in enumerate(features.percentiles):
        column = f"p{index}"
        values[column] = _percentile_value(narrow, rel, key)
        rankings.append(Ranking(percentile_name(key, features), key.direction, key.percent,
                                column))  # fmt: skip
    if not rankings:
        return [], None
    base = rel.select(customer_id=rel.customer_id, **values)
    # The group counts read ``base`` through a view (not fused into it), so ``base`` stays
    # one relation that they and the join below read.
    shared = base.view()
    placed = base
    for ranking in rankings:
        groups = _crossed_groups(shared, ranking, bins)
        joined = placed.left_join(groups, placed[ranking.column] == groups._g)
        c = ranking.column
        placed = joined.select(*placed.columns, **{f"_b{c}": joined._b, f"_n{c}": joined._n,
                                                   f"_w{c}": joined._w})  # fmt: skip
    placed = placed.filter(ibis.or_(*[placed[f"_b{r.column}"].notnull() for r in rankings]))
    nothing = {column: ibis.null(value.type()) for column, value in values.items()}
    firsts, cut = [], []
    for index, ranking in enumerate(rankings):
        c = ranking.column
        b, n, w = placed[f"_b{c}"], placed[f"_n{c}"], placed[f"_w{c}"]
        first = placed.filter(b == 0).aggregate(
            customer_id=placed.customer_id.min(), _v=placed[c].min(), _n=n.max()
        )
        firsts.append(first.select(**{**nothing, c: first._v}, customer_id=first.customer_id,
                                   _x=ibis.literal(index, type="int64"), _n=first._n,
                                   _i=ibis.literal(0, type="int64")))  # fmt: skip
        mine = placed.filter(w)
        cut.append(mine.select(**{**nothing, c: mine[c]}, customer_id=mine.customer_id,
                               _x=ibis.literal(index, type="int64"), _b=b, _n=n))  # fmt: skip
    # (ranking, group) is (``_x``, ``_b``): one window numbers every crossed group.
    crossed = ibis.union(*cut, distinct=False) if len(cut) > 1 else cut[0]
    within = ibis.row_number().over(group_by=[crossed._x, crossed._b],
                                    order_by=crossed.customer_id)  # fmt: skip
    crossed = crossed.mutate(_i=crossed._b + within).drop("_b")
    at = []
    for index, ranking in enumerate(rankings):
        wanted = _positions(ranking.kind, crossed._n, bins, ranking.percent)
        at.append((crossed._x == index) & ibis.or_(*[crossed._i == p for p in wanted]))
    picked = ibis.union(crossed.filter(ibis.or_(*at) & (crossed._i > 0)), *firsts,
                        distinct=False)  # fmt: skip
    columns: dict[str, Any] = {}
    for index, ranking in enumerate(rankings):
        c, mine = ranking.column, picked._x == index
        columns[f"v_{c}"] = picked[c]
        columns[f"i_{c}"] = ibis.ifelse(mine, picked._i, ibis.null("int64"))
        columns[f"n_{c}"] = ibis.ifelse(mine, picked._n, ibis.null("int64"))
    return rankings, picked.select("customer_id", **columns)


def _crossed_groups(base: Any, ranking: Ranking, bins: int) -> Any:
    """The value groups of one ranking that hold position 0 or one of its cut positions:
    ``_g`` (the value), ``_b`` (the position of the group's first customer), ``_n`` (how
    many customers are ranked) and ``_w`` (a cut other than 0 falls in the group)."""
    value = base[ranking.column]
    groups = base.filter(value.notnull()).group_by(_g=value).aggregate(_c=ibis._.count())
    running = groups._c.sum().over(ibis.cumulative_window(order_by=groups._g))
    groups = groups.mutate(_b=running - groups._c, _n=groups._c.sum().over())
    wanted = _positions(ranking.kind, groups._n, bins, ranking.percent)
    cut = ibis.or_(*[(p > 0) & (groups._b <= p) & (groups._b + groups._c > p) for p in wanted])
    groups = groups.mutate(_w=cut)
    return groups.filter(groups._w | (groups._b == 0)).select("_g", "_b", "_n", "_w")


def boundaries_from_table(
    rankings: Sequence[Ranking], rows: Sequence[Mapping[str, Any]], bins: int, day: date
) -> dict[str, Boundary]:
    """The stored form of every ranking from the rows of :func:`all_boundaries_query`."""
    out: dict[str, Boundary] = {}
    for ranking in rankings:
        c = ranking.column
        mine = [
            {"i": row[f"i_{c}"], "n": row[f"n_{c}"], "v": row[f"v_{c}"],
             "customer_id": row["customer_id"]}
            for row in rows
            if row[f"v_{c}"] is not None
        ]  # fmt: skip
        # a row is at one of this ranking's positions or at another ranking's only
        positions = (
            {0, *_positions(ranking.kind, mine[0]["n"], bins, ranking.percent)} if mine else set()
        )
        mine = [row for row in mine if row["i"] in positions]
        out[ranking.name] = boundary_from_rows(ranking.kind, mine, bins, ranking.percent, day)
    return out


def compile_all_boundaries(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Any],
    as_of: datetime,
) -> tuple[list[Ranking], Any]:
    """Every ranking ``definitions`` use and ONE query of their cut rows (None when there is
    no ranking); :func:`boundaries_from_table` turns its rows into :class:`Boundary` values.
    Same boundaries as :func:`compile_boundaries` (one query per ranking over the feature
    relation of every definition), at the cost of one build of the ranked measures."""
    features, _ = _lowered(definitions, catalog, settings, tables, as_of, None)
    return all_boundaries_query(features)


def rankings_used(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Any],
    as_of: datetime,
) -> dict[str, str]:
    """The names (→ kind) of the rankings ``definitions`` need boundaries for."""
    features, _ = _lowered(definitions, catalog, settings, tables, as_of, None)
    return needed(features)
