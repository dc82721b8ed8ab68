"""The model: what each side and the baseline must hold after a job, from the documented rules.

Written from docs/how-a-sync-works.md (the three-way table, the strategies, merge per field,
delete policies, decisions that stick because the baseline keeps each side) and DESIGN.md. Where
the page is silent the model takes the rule the engine's headers and executor tests state, and says
so in a comment (marked "rule:"). It knows nothing of hashes, batches or executors: one pass over
the union of keys, each key decided on its own.

A row is a tuple of the mapped fields in the TARGET's type domain (numeric(12,2): `10.5` and
`10.50` are the same value). A side's table maps key -> Row(vals, deleted); `deleted` is the
soft-delete flag, which the sync never maps. The baseline maps key -> (s, t): what the source
and the target held when last synced (a vals tuple, or None for "absent on that side").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Optional

FIELDS = ("name", "qty", "price")
NF = len(FIELDS)


def norm_price(p) -> Optional[str]:
    """numeric -> numeric(12,2): round half away from zero, printed with two decimals."""
    if p is None:
        return None
    return str(Decimal(str(p)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Row:
    vals: tuple
    deleted: bool = False


@dataclass
class Conflict:
    """A conflict the model expects to be left for a person (manual, or merge falling back)."""
    key: tuple
    kind: str
    S: Optional[tuple]
    T: Optional[tuple]
    sc: frozenset  # fields changed on the source since the baseline (indexes)
    tc: frozenset


@dataclass
class Plan:
    """One key's outcome: the final row of each side (KEEP: untouched) and the baseline."""
    src: object = "keep"      # "keep" | None (deleted) | Row
    tgt: object = "keep"
    base: object = "keep"     # "keep" | None (erased) | (s, t)
    pending: Optional[Conflict] = None


class Undecidable(Exception):
    """merge cannot decide (a field changed on both sides, fallback manual)."""


@dataclass
class Policy:
    direction: str = "one_way"          # one_way | two_way
    strategy: str = "source_wins"       # source_wins | target_wins | merge | manual
    merge_fallback: str = "manual"      # source | target | manual
    delete_policy: str = "propagate"    # propagate | ignore | soft


def classify(S, T, b):
    """The three-way table. Returns (kind, sc, tc, differing) with field index sets."""
    differing = frozenset(i for i in range(NF) if S is not None and T is not None and S[i] != T[i])
    if b is not None:
        bs, bt = b
        if (S is not None) == (bs is not None) and (T is not None) == (bt is not None) and \
                (S is None or S == bs) and (T is None or T == bt):
            return ("unchanged" if (S is not None or T is not None) else "both_deleted",
                    frozenset(), frozenset(), differing)
    if b is None:
        if S is None or T is None:
            return ("source_inserted" if S is not None else "target_inserted",
                    frozenset(), frozenset(), differing)
        if differing:
            # rule: with no baseline every differing field counts as changed on both sides.
            return "first_run_conflict", differing, differing, differing
        return "in_step", frozenset(), frozenset(), differing
    bs, bt = b
    all_f = frozenset(range(NF))
    if S is not None:
        sc_f = all_f if bs is None else frozenset(i for i in range(NF) if S[i] != bs[i])
        sc = bool(sc_f)
    else:
        sc_f, sc = frozenset(), bs is not None
    if T is not None:
        tc_f = all_f if bt is None else frozenset(i for i in range(NF) if T[i] != bt[i])
        tc = bool(tc_f)
    else:
        tc_f, tc = frozenset(), bt is not None
    if S is not None and T is not None:
        if not differing:
            kind = "in_step" if (sc or tc) else "unchanged"
        elif not sc and not tc:
            kind = "unchanged"  # kept apart by an earlier decision (README: a decision sticks)
        elif sc and not tc:
            kind = "source_changed"
        elif tc and not sc:
            kind = "target_changed"
        else:
            kind = "both_changed"
    elif S is not None:
        if not tc:
            kind = "source_changed" if sc else "unchanged"
        else:
            kind = "target_deleted_source_changed" if sc else "target_deleted"
    elif T is not None:
        if not sc:
            kind = "target_changed" if tc else "unchanged"
        else:
            kind = "source_deleted_target_changed" if tc else "source_deleted"
    else:
        kind = "both_deleted"
    return kind, sc_f, tc_f, differing


class Decider:
    """The rules that turn a key's situation (or a person's decision) into a Plan."""

    def __init__(self, pol: Policy):
        self.pol = pol
        self.two_way = pol.direction == "two_way"

    # ---- side effects -------------------------------------------------------------------
    @staticmethod
    def _tgt_write(c: Conflict, want, p: Plan, tgt_row: Optional[Row]):
        if c.T is None:
            p.tgt = Row(want, False)
        elif want != c.T:
            p.tgt = Row(want, tgt_row.deleted if tgt_row else False)

    @staticmethod
    def _src_write(c: Conflict, want, p: Plan, src_row: Optional[Row]):
        if c.S is None:
            p.src = Row(want, False)
        elif want != c.S:
            p.src = Row(want, src_row.deleted if src_row else False)

    def _delete_target(self, c, p, tgt_row):
        dp = self.pol.delete_policy
        if dp == "propagate":
            if c.T is not None:
                p.tgt = None
            p.base = None
        elif dp == "ignore":
            p.base = None if c.T is None else (None, c.T)
        else:  # soft: the row stays, flagged
            if c.T is not None:
                p.tgt = Row(c.T, True)
            p.base = None if c.T is None else (None, c.T)

    def _delete_source(self, c, p, src_row):
        dp = self.pol.delete_policy
        if c.S is not None and dp != "ignore":
            p.src = None if dp == "propagate" else Row(c.S, True)
        kept = None if (dp == "propagate" or c.S is None) else c.S
        p.base = None if kept is None else (kept, None)

    def take_source(self, c, p, src_row, tgt_row):
        if c.S is None:
            return self._delete_target(c, p, tgt_row)
        self._tgt_write(c, c.S, p, tgt_row)
        p.base = (c.S, c.S)

    def take_target(self, c, p, src_row, tgt_row):
        if c.T is None:
            if self.two_way:
                return self._delete_source(c, p, src_row)
            p.base = None if c.S is None else (c.S, None)  # one-way: accept the target's delete
            return
        if self.two_way:
            self._src_write(c, c.T, p, src_row)
            p.base = (c.T, c.T)
        else:
            p.base = (c.S, c.T)

    def merge(self, c, fallback, p, src_row, tgt_row):
        if c.S is None or c.T is None:
            # A delete against a change is decided for the whole row.
            if c.kind == "source_deleted":
                return self.take_source(c, p, src_row, tgt_row)
            if c.kind in ("target_deleted", "target_changed", "target_inserted"):
                return self.take_target(c, p, src_row, tgt_row)
            if fallback == "source":
                return self.take_source(c, p, src_row, tgt_row)
            if fallback == "target":
                return self.take_target(c, p, src_row, tgt_row)
            raise Undecidable("deleted on one side, changed on the other")
        wt, ws = list(c.T), list(c.S)
        undecided = []
        for i in range(NF):
            if c.S[i] == c.T[i]:
                continue
            s_ch, t_ch = i in c.sc, i in c.tc
            if s_ch and not t_ch:
                wt[i] = c.S[i]
            elif t_ch and not s_ch:
                ws[i] = c.T[i]
            elif s_ch and t_ch:
                if fallback == "source":
                    wt[i] = c.S[i]
                elif fallback == "target":
                    ws[i] = c.T[i]
                else:
                    undecided.append(FIELDS[i])
            # changed on neither side: a difference kept by an earlier decision stays
        if undecided:
            raise Undecidable("fields " + ",".join(undecided))
        wt, ws = tuple(wt), tuple(ws)
        self._tgt_write(c, wt, p, tgt_row)
        if self.two_way:
            self._src_write(c, ws, p, src_row)
            p.base = (ws, wt)
        else:
            p.base = (c.S, wt)

    def custom(self, c, want, p, src_row, tgt_row):
        self._tgt_write(c, want, p, tgt_row)
        if self.two_way:
            self._src_write(c, want, p, src_row)
            p.base = (want, want)
        else:
            p.base = (c.S, want)

    def skip(self, c, p):
        p.base = None if (c.S is None and c.T is None) else (c.S, c.T)

    def by_strategy(self, c, p, src_row, tgt_row):
        st = self.pol.strategy
        if st == "source_wins":
            if c.kind == "target_changed" and c.S is not None and c.T is not None:
                # Revert the target's drift; differences kept by earlier decisions stay.
                want = tuple(c.S[i] if i in c.tc else c.T[i] for i in range(NF))
                self._tgt_write(c, want, p, tgt_row)
                p.base = (c.S, want)
                return
            return self.take_source(c, p, src_row, tgt_row)
        if st == "target_wins":
            return self.take_target(c, p, src_row, tgt_row)
        if st == "merge":
            try:
                q = Plan()
                self.merge(c, self.pol.merge_fallback, q, src_row, tgt_row)
                p.src, p.tgt, p.base = q.src, q.tgt, q.base
            except Undecidable:
                p.pending = c
            return
        p.pending = c  # manual

    # ---- one key ------------------------------------------------------------------------
    def plan(self, key, src_row: Optional[Row], tgt_row: Optional[Row], b) -> Plan:
        S = src_row.vals if src_row else None
        T = tgt_row.vals if tgt_row else None
        kind, sc, tc, _ = classify(S, T, b)
        c = Conflict(key, kind, S, T, sc, tc)
        p = Plan()
        if kind == "unchanged":
            pass
        elif kind == "in_step":
            p.base = (S, T)
        elif kind == "source_inserted":
            p.tgt = Row(S, False)
            p.base = (S, S)
        elif kind == "source_changed":
            if T is None:
                p.tgt = Row(S, False)
                p.base = (S, S)
            else:
                want = tuple(S[i] if i in sc else T[i] for i in range(NF))
                self._tgt_write(c, want, p, tgt_row)
                p.base = (S, want)
        elif kind == "both_deleted":
            p.base = None
        elif kind == "target_inserted":
            if self.two_way:
                self.take_target(c, p, src_row, tgt_row)
        elif kind == "target_changed":
            if self.two_way:
                if S is None:
                    self.skip(c, p)
                else:
                    want = tuple(T[i] if i in tc else S[i] for i in range(NF))
                    self._src_write(c, want, p, src_row)
                    p.base = (want, T)
            elif S is None:  # the source's delete was ignored earlier: accept the target's edit
                self.skip(c, p)
            else:
                self.by_strategy(c, p, src_row, tgt_row)
        elif kind == "source_deleted":
            self.take_source(c, p, src_row, tgt_row)
        elif kind == "target_deleted":
            if self.two_way:
                self.take_target(c, p, src_row, tgt_row)
            else:
                self.by_strategy(c, p, src_row, tgt_row)
        elif kind == "source_deleted_target_changed" and self.pol.delete_policy == "ignore":
            self.take_source(c, p, src_row, tgt_row)
        else:
            self.by_strategy(c, p, src_row, tgt_row)
        # A source row that comes back after a soft delete: the target row is live again.
        if (self.pol.delete_policy == "soft" and b is not None and b[0] is None and S is not None
                and T is not None and p.pending is None and p.tgt is not None):
            p.tgt = Row((tgt_row if p.tgt == "keep" else p.tgt).vals, False)
        return p

    def decide(self, c: Conflict, decision: str, row, src_row, tgt_row) -> Plan:
        """A person's decision on a recorded conflict (dbsync.resolve / the API)."""
        p = Plan()
        if decision == "source":
            self.take_source(c, p, src_row, tgt_row)
        elif decision == "target":
            self.take_target(c, p, src_row, tgt_row)
        elif decision == "merge":
            self.merge(c, self.pol.merge_fallback, p, src_row, tgt_row)  # may raise Undecidable
        elif decision == "custom":
            self.custom(c, row, p, src_row, tgt_row)
        elif decision == "skip":
            self.skip(c, p)
        else:
            raise ValueError(decision)
        return p


@dataclass
class Model:
    pol: Policy
    src: dict = field(default_factory=dict)
    tgt: dict = field(default_factory=dict)
    base: dict = field(default_factory=dict)

    def run(self):
        """Plans a job over the current state. Returns (plans by key, pending conflicts)."""
        d = Decider(self.pol)
        plans, pending = {}, []
        for k in sorted(set(self.src) | set(self.tgt) | set(self.base), key=_sort_key):
            p = d.plan(k, self.src.get(k), self.tgt.get(k), self.base.get(k))
            plans[k] = p
            if p.pending is not None:
                pending.append(p.pending)
        return plans, pending

    def apply(self, k, p: Plan):
        if p.src != "keep":
            if p.src is None:
                self.src.pop(k, None)
            else:
                self.src[k] = p.src
        if p.tgt != "keep":
            if p.tgt is None:
                self.tgt.pop(k, None)
            else:
                self.tgt[k] = p.tgt
        if p.base != "keep":
            if p.base is None:
                self.base.pop(k, None)
            else:
                self.base[k] = p.base


def _sort_key(k):
    return tuple((x.encode("utf-8") if isinstance(x, str) else b"", x if isinstance(x, int) else 0)
                 for x in k)


def selftest(iterations=3000, seed=5):
    """The model's own consistency: after a job's plans (and random decisions) are applied, a
    second job plans nothing, for every policy. Returns the number of inconsistent cases."""
    import random
    rnd = random.Random(seed)

    def rv():
        return (rnd.choice([None, "a", "b"]), rnd.choice([None, 1, 2]), rnd.choice([None, "1.00"]))

    bad = 0
    for _ in range(iterations):
        pol = Policy(rnd.choice(["one_way", "two_way"]),
                     rnd.choice(["source_wins", "target_wins", "merge", "manual"]),
                     rnd.choice(["source", "target", "manual"]),
                     rnd.choice(["propagate", "ignore", "soft"]))
        m = Model(pol)
        keys = [(str(i),) for i in range(4)]
        for _round in range(5):
            for k in keys:
                for side in (m.src, m.tgt):
                    r = rnd.random()
                    if r < 0.2:
                        side.pop(k, None)
                    elif r < 0.5:
                        side[k] = Row(rv(), side[k].deleted if k in side else False)
            plans, pending = m.run()
            d = Decider(pol)
            for c in pending:
                try:
                    plans[c.key] = d.decide(c, rnd.choice(["source", "target", "merge", "custom", "skip"]),
                                            rv(), m.src.get(c.key), m.tgt.get(c.key))
                except Undecidable:
                    plans[c.key] = d.decide(c, "skip", None, None, None)
            for k, p in plans.items():
                m.apply(k, p)
            again, pending2 = m.run()
            if pending2 or any(p.src != "keep" or p.tgt != "keep" for p in again.values()):
                bad += 1
    return bad


if __name__ == "__main__":
    import sys
    n = selftest()
    print(f"oracle selftest: {n} inconsistent case(s)")
    sys.exit(1 if n else 0)
