"""Creating label sets: AI labels and comparisons in bulk, tallies, imports with human labels."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Sum

from cai_web.models import Team
from constitutions.models import ConstitutionVersion, Principle, VersionStatus

from .. import formats, stats
from ..models import AILabel, AILabelTally, Comparison, HumanReview, LabelSet
from .common import (
    BATCH,
    IMPORT_FORMATS,
    AILabelInput,
    ComparisonInput,
    LabellingError,
    iter_chunks,
)
from .humans import comparison_refresh_human, consensus


def labelset_create(
    *,
    team: Team,
    user,
    name: str,
    source_kind: str,
    source_detail: dict[str, Any] | None = None,
    description: str = "",
    rule: str = "agree",
    threshold: float = 0.5,
) -> LabelSet:
    name = (name or "").strip()
    if not name:
        raise LabellingError("Give the label set a name.", field="name")
    if source_kind not in LabelSet.SourceKind.values:
        raise LabellingError(f"Unknown source kind {source_kind!r}.")
    stats.derive_label("a", "a", rule=rule, threshold=threshold)  # validates rule/threshold
    if LabelSet.objects.filter(team=team, name=name).exists():
        raise LabellingError(f"This team already has a label set called {name!r}.", field="name")
    return LabelSet.objects.create(
        team=team,
        name=name,
        description=description,
        source_kind=source_kind,
        source_detail=source_detail or {},
        rule=rule,
        threshold=threshold,
        created_by=user,
    )


@transaction.atomic
def comparison_bulk_create(
    *,
    label_set: LabelSet,
    comparisons: Sequence[ComparisonInput],
    skip_existing: bool = False,
) -> int:
    """Insert comparisons; return how many were new.

    ``skip_existing`` leaves an external id the set already has as it is (a
    redelivered batch of a labelling shard); otherwise a repeated id is an error.
    The set's count grows by what was inserted: the cost is the batch's, not the set's.
    """
    if skip_existing:
        existing = set(
            Comparison.objects.filter(
                label_set=label_set, external_id__in=[c.external_id for c in comparisons]
            ).values_list("external_id", flat=True)
        )
        comparisons = [c for c in comparisons if c.external_id not in existing]
    rows = [
        Comparison(
            label_set=label_set,
            external_id=c.external_id,
            prompt=c.prompt,
            response_a=c.response_a,
            response_b=c.response_b,
            principle_id=c.principle_id,
            principle_key=c.principle_key,
            category=c.category,
            metadata=c.metadata,
            flagged_harmful=bool(c.metadata.get("harmful"))
            if isinstance(c.metadata, dict)
            else False,
        )
        for c in comparisons
    ]
    if rows:
        Comparison.objects.bulk_create(rows, batch_size=BATCH)
        LabelSet.objects.filter(pk=label_set.pk).update(
            comparison_count=F("comparison_count") + len(rows)
        )
    return len(rows)


def _derived(label_set: LabelSet, item: AILabelInput) -> dict[str, Any]:
    d = stats.derive_label(
        item.verdict_ab,
        item.verdict_ba,
        item.p_a_ab,
        item.p_a_ba,
        rule=label_set.rule,
        threshold=label_set.threshold,
    )
    return {
        "consistent": d.consistent,
        "preferred_slot": d.preferred_slot,
        "p_debiased": d.p_debiased,
        "confidence": None if d.p_debiased is None else max(d.p_debiased, 1 - d.p_debiased),
        "final": d.final,
        "rule": d.rule,
    }


TALLY_KEY = ("judge", "principle_key", "category", "verdict_ab", "verdict_ba")
TallyKey = tuple[str, str, str, str | None, str | None]


def _contribution(p_a_ab: float | None, p_a_ba: float | None) -> tuple[int, int, float, int, float]:
    """What one AI label adds to its tally row (n, n_p_ab, sum_p_ab, n_p_ba, sum_p_ba)."""
    return (
        1,
        int(p_a_ab is not None),
        p_a_ab or 0.0,
        int(p_a_ba is not None),
        p_a_ba or 0.0,
    )


@transaction.atomic
def ailabel_bulk_create(*, label_set: LabelSet, labels: Sequence[AILabelInput]) -> int:
    """Insert or update (per comparison and judge) AI labels; derived fields computed here.

    Idempotent: writing the same labels again changes nothing, so a restarted
    labelling job can resend a batch; an id sent twice in one batch keeps the last.
    The tallies are kept exact with the batch's deltas (old contribution out, new in)
    in this transaction, so a write costs O(batch), never O(set). The first statement
    locks the set's row: writers of one set (shards of one run) take turns, so no
    tally update is lost.
    """
    LabelSet.objects.filter(pk=label_set.pk).update(ai_label_count=F("ai_label_count"))
    latest: dict[tuple[str, str], AILabelInput] = {}
    for lab in labels:
        latest[(lab.external_id, lab.judge)] = lab
    labels = list(latest.values())
    ids = {lab.external_id for lab in labels}
    comparisons: dict[str, tuple[int, str, str, str | None, int, str | None, str | None]] = {}
    for chunk in iter_chunks(sorted(ids), 2000):
        for ext, *rest in Comparison.objects.filter(
            label_set=label_set, external_id__in=chunk
        ).values_list(
            "external_id",
            "pk",
            "principle_key",
            "category",
            "human_verdict",
            "review_count",
            "gold_verdict",
            "audit_verdict",
        ):
            comparisons[ext] = tuple(rest)
    missing = sorted(ids - comparisons.keys())
    if missing:
        raise LabellingError(f"No comparison with id {', '.join(missing[:5])} in this label set.")
    old: dict[tuple[int, str], dict[str, Any]] = {}
    wanted = {(comparisons[lab.external_id][0], lab.judge) for lab in labels}
    for chunk in iter_chunks(sorted({pk for pk, _ in wanted}), 2000):
        for row in AILabel.objects.filter(comparison_id__in=chunk).values(
            "comparison_id", "p_a_ab", "p_a_ba", *TALLY_KEY
        ):
            if (row["comparison_id"], row["judge"]) in wanted:
                old[(row["comparison_id"], row["judge"])] = row
    deltas: dict[TallyKey, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0, 0.0])
    rows = []
    for lab in labels:
        pk, key, cat, human, n_reviews, gold, audit = comparisons[lab.external_id]
        before = old.get((pk, lab.judge))
        if before is not None:
            # An update keeps the row's slice (principle, category); only verdicts move.
            key, cat = before["principle_key"], before["category"]
            delta = deltas[tuple(before[k] for k in TALLY_KEY)]  # type: ignore[index]
            for i, v in enumerate(_contribution(before["p_a_ab"], before["p_a_ba"])):
                delta[i] -= v
        delta = deltas[(lab.judge, key, cat, lab.verdict_ab, lab.verdict_ba)]
        for i, v in enumerate(_contribution(lab.p_a_ab, lab.p_a_ba)):
            delta[i] += v
        rows.append(
            AILabel(
                label_set=label_set,
                comparison_id=pk,
                judge=lab.judge,
                principle_key=key,
                category=cat,
                verdict_ab=lab.verdict_ab,
                verdict_ba=lab.verdict_ba,
                p_a_ab=lab.p_a_ab,
                p_a_ba=lab.p_a_ba,
                reviewed=n_reviews > 0,
                human_verdict=human,
                gold_verdict=gold,
                audit_verdict=audit,
                **_derived(label_set, lab),
            )
        )
    AILabel.objects.bulk_create(
        rows,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["comparison", "judge"],
        update_fields=[
            "verdict_ab",
            "verdict_ba",
            "p_a_ab",
            "p_a_ba",
            "consistent",
            "preferred_slot",
            "p_debiased",
            "confidence",
            "final",
            "rule",
        ],
    )
    _tallies_apply(label_set, deltas)
    return len(rows)


def _tallies_apply(label_set: LabelSet, deltas: dict[TallyKey, list[float]]) -> None:
    """Add ``deltas`` to the set's tally rows: update the few it touches, create new
    slices, drop emptied ones, and move the set's label count by the net change."""
    deltas = {k: d for k, d in deltas.items() if any(d)}
    if not deltas:
        return
    judges = {k[0] for k in deltas}
    current = {
        tuple(getattr(t, f) for f in TALLY_KEY): t
        for t in AILabelTally.objects.filter(label_set=label_set, judge__in=judges)
    }
    changed, created, emptied = [], [], []
    for key, d in deltas.items():
        tally = current.get(key)
        if tally is None:
            tally = AILabelTally(label_set=label_set, **dict(zip(TALLY_KEY, key, strict=True)), n=0)
            created.append(tally)
        else:
            changed.append(tally)
        tally.n += int(d[0])
        tally.n_p_ab += int(d[1])
        tally.sum_p_ab += d[2]
        tally.n_p_ba += int(d[3])
        tally.sum_p_ba += d[4]
        if tally.n < 0 or tally.n_p_ab < 0 or tally.n_p_ba < 0:
            raise LabellingError(f"Tallies of {label_set} are out of step; refresh them.")
        if tally.n == 0 and tally.pk is not None:
            emptied.append(tally.pk)
    if changed:
        # Additive UPDATEs in one executemany (Django's bulk_update builds a CASE per
        # row and field, which costs more than the whole batch's insert).
        table = connection.ops.quote_name(AILabelTally._meta.db_table)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET n = n + %s, n_p_ab = n_p_ab + %s, sum_p_ab = sum_p_ab + %s, "
                "n_p_ba = n_p_ba + %s, sum_p_ba = sum_p_ba + %s WHERE id = %s",
                [
                    (int(d[0]), int(d[1]), d[2], int(d[3]), d[4], t.pk)
                    for t in changed
                    if t.n > 0
                    for d in [deltas[tuple(getattr(t, f) for f in TALLY_KEY)]]
                ],
            )
    if emptied:
        AILabelTally.objects.filter(pk__in=emptied).delete()
    created = [t for t in created if t.n > 0]
    if created:
        AILabelTally.objects.bulk_create(created)
    LabelSet.objects.filter(pk=label_set.pk).update(
        ai_label_count=F("ai_label_count") + int(sum(d[0] for d in deltas.values()))
    )


@transaction.atomic
def labelset_refresh_tallies(*, label_set: LabelSet) -> None:
    """Rebuild the per-slice verdict counts with one GROUP BY over the set's AI labels.

    The writes keep the tallies exact with deltas; this full recount is the repair
    (after rows were deleted behind the services' back) and the reference the
    property test compares the deltas with.
    """
    AILabelTally.objects.filter(label_set=label_set).delete()
    groups = (
        AILabel.objects.filter(label_set=label_set)
        .values("judge", "principle_key", "category", "verdict_ab", "verdict_ba")
        .annotate(
            n=Count("id"),
            n_p_ab=Count("p_a_ab"),
            sum_p_ab=Sum("p_a_ab"),
            n_p_ba=Count("p_a_ba"),
            sum_p_ba=Sum("p_a_ba"),
        )
        .order_by()
    )
    tallies = [
        AILabelTally(
            label_set=label_set,
            **{k: g[k] for k in ("judge", "principle_key", "category", "verdict_ab", "verdict_ba")},
            n=g["n"],
            n_p_ab=g["n_p_ab"],
            sum_p_ab=g["sum_p_ab"] or 0.0,
            n_p_ba=g["n_p_ba"],
            sum_p_ba=g["sum_p_ba"] or 0.0,
        )
        for g in groups
    ]
    AILabelTally.objects.bulk_create(tallies, batch_size=BATCH)
    LabelSet.objects.filter(pk=label_set.pk).update(ai_label_count=sum(t.n for t in tallies))


def _principles_of(version: ConstitutionVersion | None) -> dict[str, Principle]:
    if version is None:
        return {}
    return {p.key: p for p in version.principles.select_related("category")}


@transaction.atomic
def labelset_create_from_pairs(
    *,
    team: Team,
    user,
    name: str,
    records: Sequence[formats.LabelRecord],
    source_kind: str = LabelSet.SourceKind.IMPORT,
    source_detail: dict[str, Any] | None = None,
    description: str = "",
    principle_version: ConstitutionVersion | None = None,
    rule: str = "agree",
    threshold: float = 0.5,
) -> LabelSet:
    """A label set with its comparisons, AI labels and any human labels, all or nothing.

    ``records`` are :class:`labelling.formats.LabelRecord` (plain data). With
    ``principle_version`` (a published version of this team), every record's
    principle key must name one of its principles; the comparison then links to it
    and takes its category. Records whose judge is ``formats.NO_JUDGE`` and that have
    no verdicts (PandaLM) get no AI label.
    """
    if not records:
        raise LabellingError("There is nothing to import.")
    if principle_version is not None and (
        principle_version.constitution.team_id != team.pk
        or principle_version.status != VersionStatus.PUBLISHED
    ):
        raise LabellingError(
            "Choose a published constitution version of this team.", field="principle_version"
        )
    principles = _principles_of(principle_version)
    problems = []
    for i, rec in enumerate(records):
        if principles and rec.principle is not None and rec.principle not in principles:
            problems.append(
                f"record {i} ({rec.id}): principle {rec.principle!r} is not in {principle_version}"
            )
    if problems:
        raise formats.LabelFormatError(problems)

    label_set = labelset_create(
        team=team,
        user=user,
        name=name,
        source_kind=source_kind,
        source_detail=source_detail,
        description=description,
        rule=rule,
        threshold=threshold,
    )
    labelset_store_records(label_set=label_set, records=records, principles=principles)
    label_set.refresh_from_db()
    return label_set


def labelset_store_records(
    *,
    label_set: LabelSet,
    records: Sequence[formats.LabelRecord],
    principles: dict[str, Principle],
    fresh: bool = False,
) -> None:
    """Store checked records (one batch of an import) in ``label_set``: comparisons, AI
    labels and human labels. Costs what the batch holds; an id must not be in an earlier
    batch. Records whose judge is ``formats.NO_JUDGE`` and that have no verdicts
    (PandaLM) get no AI label.

    ``fresh``: the set was made in this transaction and holds only earlier batches of
    these records, so on PostgreSQL the rows go in with COPY (no conflicts to resolve,
    nothing old to subtract from the tallies): about ten times the rate of the ORM path.
    """
    if fresh and connection.vendor == "postgresql":
        _copy_records(label_set, records, principles)
        return
    comparisons: dict[str, ComparisonInput] = {}
    labels: list[AILabelInput] = []
    for rec in records:
        principle = principles.get(rec.principle or "")
        category = principle.category.name if principle else rec.metadata.get("category", "")
        if rec.id not in comparisons:
            comparisons[rec.id] = ComparisonInput(
                external_id=rec.id,
                prompt=rec.prompt,
                response_a=rec.response_a,
                response_b=rec.response_b,
                principle_key=rec.principle or "",
                category=category if isinstance(category, str) else "",
                principle_id=principle.pk if principle else None,
                metadata=rec.metadata,
            )
        if not (
            rec.judge == formats.NO_JUDGE and rec.verdict_ab is None and rec.verdict_ba is None
        ):
            labels.append(
                AILabelInput(
                    external_id=rec.id,
                    judge=rec.judge,
                    verdict_ab=rec.verdict_ab,
                    verdict_ba=rec.verdict_ba,
                    p_a_ab=rec.p_a_ab,
                    p_a_ba=rec.p_a_ba,
                )
            )
    comparison_bulk_create(label_set=label_set, comparisons=list(comparisons.values()))
    if labels:
        ailabel_bulk_create(label_set=label_set, labels=labels)
    if any(rec.human or rec.humans for rec in records):
        _import_human_labels(label_set, records)


def _copy_records(
    label_set: LabelSet, records: Sequence[formats.LabelRecord], principles: dict[str, Principle]
) -> None:
    from django.utils import timezone

    by_id: dict[str, formats.LabelRecord] = {}
    labels: dict[tuple[str, str], formats.LabelRecord] = {}
    humans: dict[str, dict[str, str]] = defaultdict(dict)  # id -> reviewer -> verdict
    for rec in records:
        by_id.setdefault(rec.id, rec)
        if not (
            rec.judge == formats.NO_JUDGE and rec.verdict_ab is None and rec.verdict_ba is None
        ):
            labels[(rec.id, rec.judge)] = rec
        for h in rec.humans or (
            [formats.HumanLabel(reviewer="imported", verdict=rec.human)] if rec.human else []
        ):
            humans[rec.id].setdefault(h.reviewer, h.verdict)
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Comparison._meta.db_table, len(by_id)],
        )
        pks = dict(zip(by_id, (row[0] for row in cursor.fetchall()), strict=True))
        raw = cursor.cursor  # psycopg's own cursor: COPY
        slices: dict[str, tuple[str, str, int | None]] = {}
        consensus_of = {i: consensus(list(v.values())) for i, v in humans.items()}
        with raw.copy(
            f"COPY {q(Comparison._meta.db_table)} (id, label_set_id, external_id, prompt, "
            "response_a, response_b, principle_id, principle_key, category, metadata, "
            "flagged_harmful, human_verdict, review_count, gold_verdict, gold_count, "
            "audit_verdict, audit_count) FROM STDIN"
        ) as copy:
            for rid, rec in by_id.items():
                principle = principles.get(rec.principle or "")
                category = (
                    principle.category.name if principle else rec.metadata.get("category", "")
                )
                category = category if isinstance(category, str) else ""
                slices[rid] = (rec.principle or "", category, principle.pk if principle else None)
                copy.write_row(
                    (
                        pks[rid],
                        label_set.pk,
                        rid,
                        rec.prompt,
                        rec.response_a,
                        rec.response_b,
                        slices[rid][2],
                        slices[rid][0],
                        category,
                        json.dumps(rec.metadata, ensure_ascii=False),
                        bool(rec.metadata.get("harmful")),
                        consensus_of.get(rid),
                        len(humans.get(rid, ())),
                        # Everything an import brings is gold; audits come later, in the app.
                        consensus_of.get(rid),
                        len(humans.get(rid, ())),
                        None,
                        0,
                    )
                )
        deltas: dict[TallyKey, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0, 0.0])
        with raw.copy(
            f"COPY {q(AILabel._meta.db_table)} (label_set_id, comparison_id, judge, "
            "principle_key, category, verdict_ab, verdict_ba, p_a_ab, p_a_ba, consistent, "
            "preferred_slot, p_debiased, confidence, final, rule, reviewed, human_verdict, "
            "gold_verdict) FROM STDIN"
        ) as copy:
            for (rid, judge), rec in labels.items():
                key, cat, _ = slices[rid]
                d = _derived(label_set, rec)  # type: ignore[arg-type]
                delta = deltas[(judge, key, cat, rec.verdict_ab, rec.verdict_ba)]
                for i, v in enumerate(_contribution(rec.p_a_ab, rec.p_a_ba)):
                    delta[i] += v
                copy.write_row(
                    (
                        label_set.pk,
                        pks[rid],
                        judge,
                        key,
                        cat,
                        rec.verdict_ab,
                        rec.verdict_ba,
                        rec.p_a_ab,
                        rec.p_a_ba,
                        d["consistent"],
                        d["preferred_slot"],
                        d["p_debiased"],
                        d["confidence"],
                        d["final"],
                        d["rule"],
                        rid in humans,
                        consensus_of.get(rid),
                        consensus_of.get(rid),
                    )
                )
        if humans:
            now = timezone.now()
            with raw.copy(
                f"COPY {q(HumanReview._meta.db_table)} (comparison_id, label_set_id, "
                "reviewer_name, source, verdict, flag_harmful, flag_principle_misapplied, "
                "flag_ai_wrong, note, created_at) FROM STDIN"
            ) as copy:
                for rid, verdicts in humans.items():
                    for reviewer, verdict in verdicts.items():
                        copy.write_row(
                            (
                                pks[rid],
                                label_set.pk,
                                reviewer,
                                HumanReview.Source.IMPORT,
                                verdict,
                                False,
                                False,
                                False,
                                "",
                                now,
                            )
                        )
    LabelSet.objects.filter(pk=label_set.pk).update(
        comparison_count=F("comparison_count") + len(by_id)
    )
    _tallies_apply(label_set, deltas)


def principles_of(version: ConstitutionVersion | None) -> dict[str, Principle]:
    """Principle key → principle of a version (what an import links its records to)."""
    return _principles_of(version)


def _import_human_labels(label_set: LabelSet, records: Sequence[formats.LabelRecord]) -> None:
    ids = sorted({rec.id for rec in records})
    pk_of: dict[str, int] = {}
    for chunk in iter_chunks(ids, 2000):
        pk_of.update(
            Comparison.objects.filter(label_set=label_set, external_id__in=chunk).values_list(
                "external_id", "pk"
            )
        )
    reviews = []
    touched: set[int] = set()
    seen: set[tuple[int, str]] = set()
    for rec in records:
        cid = pk_of[rec.id]
        humans = list(rec.humans) or (
            [formats.HumanLabel(reviewer="imported", verdict=rec.human)] if rec.human else []
        )
        for h in humans:
            if (cid, h.reviewer) in seen:
                continue  # the same pair listed once per judge carries the same humans
            seen.add((cid, h.reviewer))
            reviews.append(
                HumanReview(
                    comparison_id=cid,
                    label_set=label_set,
                    reviewer_name=h.reviewer,
                    source=HumanReview.Source.IMPORT,
                    verdict=h.verdict,
                )
            )
            touched.add(cid)
    HumanReview.objects.bulk_create(reviews, batch_size=BATCH)
    # Imported human labels are gold (HumanReview.source "import").
    comparison_refresh_human(comparison_ids=touched)


def labelset_import(
    *,
    team: Team,
    user,
    name: str,
    fmt: str,
    data: bytes,
    judge: str = "",
    dataset_name: str = "",
    principle_version: ConstitutionVersion | None = None,
    description: str = "",
) -> LabelSet:
    """Parse an upload (our JSONL, LLMBar, PandaLM or a CAI paper eval file) and store it; all or nothing.

    Raises ``formats.LabelFormatError`` (per-line problems) or :class:`LabellingError`.
    """
    if fmt not in IMPORT_FORMATS:
        raise LabellingError(f"Unknown format {fmt!r}.", field="fmt")
    if fmt == "llmbar" and (not judge.strip() or not dataset_name.strip()):
        raise LabellingError(
            "An LLMBar import needs the judge's name and the dataset's name.",
            field="judge" if not judge.strip() else "dataset_name",
        )
    records = formats.parse_document(
        fmt, data, judge=judge.strip(), dataset_name=dataset_name.strip()
    )
    return labelset_create_from_pairs(
        team=team,
        user=user,
        name=name,
        records=records,
        source_kind=LabelSet.SourceKind.IMPORT,
        source_detail={
            "format": fmt,
            "judge": judge,
            "dataset": dataset_name,
            "records": len(records),
        },
        description=description,
        principle_version=principle_version,
    )
