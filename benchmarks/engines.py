"""Benchmark (not a test): which engine should the rules compute with? (issue 24)

    python benchmarks/engines.py [--invoices 1000000] [--clients 100000] [--repeat 3]

Two real kernels of the rules on the invoices view (:func:`clientcare.rules.frames.invoices`
of the generated snapshot of ``rules_bench.py``):

* ``overdue``: late_payment's overdue aggregation: invoices Odoo lists as overdue, not
  excluded from follow-up, per client and company currency: count, amount owed (company
  currency), oldest due date, most days overdue.
* ``punctual``: the fit checklist's "pays on time": invoices paid in the last 365 days (days
  late against the due date) and those overdue now (late by their days so far), per client:
  count, paid, late, average delay.

Contenders: the project's pandas code as the rules write it (nullable Int64 ids, categorical
and Arrow-string text), the same pandas code on NumPy dtypes, pandas on Arrow dtypes, polars
and DuckDB (each skipped when not installed: they are not ClientCare dependencies; install
them in a scratch virtualenv to compare).  Each prints best-of-``--repeat`` seconds of its
input conversion (once per snapshot), of each kernel, and of turning each result back into
the NumPy arrays a rule builds findings from; every contender's arrays are checked equal to
the project's.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rules_bench import AS_OF, generate  # noqa: E402

from clientcare.connector import facts  # noqa: E402
from clientcare.rules import frames as F  # noqa: E402

TODAY = np.datetime64(AS_OF, "ns")
SINCE = TODAY - np.timedelta64(365, "D")
DAY_NS = np.timedelta64(1, "D")
CUR = facts.OWED_CURRENCY
COLUMNS = ["id", "client_id", "is_invoice", "owed", "settled", "followup_excluded", CUR, "due", "paid_date",
           "amount_residual_signed"]


def best(repeat: int, fn):
    """(best seconds, last result) of ``repeat`` calls."""
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


# -- pandas, as the rules write it (and the same code on other dtypes) ---------------------------
def pandas_overdue(inv: pd.DataFrame):
    over = inv.loc[(inv["is_invoice"] & inv["owed"] & (inv["due"] < TODAY) & inv["followup_excluded"].isna())
                   .to_numpy(dtype=bool)]
    over = over.assign(days=(TODAY - over["due"]) // pd.Timedelta(days=1))
    return over.groupby(["client_id", CUR], observed=True, sort=True).agg(
        n=("id", "size"), owed=("amount_residual_signed", "sum"), oldest=("due", "min"), worst=("days", "max"))


def pandas_punctual(inv: pd.DataFrame):
    paid = inv.loc[(inv["is_invoice"] & inv["settled"] & (inv["paid_date"] > SINCE) & (inv["paid_date"] <= TODAY))
                   .to_numpy(dtype=bool)]
    over = inv.loc[(inv["is_invoice"] & inv["owed"] & (inv["due"] < TODAY)).to_numpy(dtype=bool)]
    late = (paid["paid_date"] - paid["due"]) / pd.Timedelta(days=1)
    both = pd.concat([
        pd.DataFrame({"client_id": paid["client_id"], "paid": 1, "late": (late > 0).astype("int64"),
                      "delay": late.clip(lower=0)}),
        pd.DataFrame({"client_id": over["client_id"], "paid": 0, "late": 1,
                      "delay": (TODAY - over["due"]) / pd.Timedelta(days=1)})], ignore_index=True)
    return both.groupby("client_id", sort=True).agg(n=("late", "size"), n_paid=("paid", "sum"),
                                                    n_late=("late", "sum"), avg=("delay", "mean"))


def pandas_back(result: pd.DataFrame) -> dict:
    """The NumPy arrays a rule reads (ids, currency codes as text, counts, amounts, days)."""
    out = {}
    for i, level in enumerate(result.index.names):
        values = result.index.get_level_values(i)
        out[level] = (values.to_numpy(dtype="int64") if level == "client_id"
                      else np.asarray(values.astype(str), dtype=object))
    for col in result.columns:
        s = result[col]
        if col == "oldest":
            out[col] = s.to_numpy(dtype="datetime64[ns]")
        elif col in ("owed", "avg"):
            out[col] = s.to_numpy(dtype="float64")
        else:
            out[col] = s.to_numpy(dtype="int64")
    return out


def to_numpy_dtypes(inv: pd.DataFrame) -> pd.DataFrame:
    """The view with NumPy dtypes: ids int64 (-1 unknown), text as categorical codes, masks bool."""
    return pd.DataFrame({
        "id": inv["id"].to_numpy(dtype="int64"),
        "client_id": inv["client_id"].to_numpy(dtype="int64", na_value=-1),
        "is_invoice": inv["is_invoice"].to_numpy(dtype=bool), "owed": inv["owed"].to_numpy(dtype=bool),
        "settled": inv["settled"].to_numpy(dtype=bool),
        "followup_excluded": inv["followup_excluded"].astype(object).where(inv["followup_excluded"].notna(), np.nan),
        CUR: inv[CUR].astype("category"),
        "due": inv["due"].to_numpy(dtype="datetime64[ns]"),
        "paid_date": inv["paid_date"].to_numpy(dtype="datetime64[ns]"),
        "amount_residual_signed": inv["amount_residual_signed"].to_numpy(dtype="float64")})


def to_arrow_dtypes(inv: pd.DataFrame) -> pd.DataFrame:
    import pyarrow as pa
    table = pa.Table.from_pandas(inv[COLUMNS].assign(**{CUR: inv[CUR].astype(str).where(inv[CUR].notna(), None)}),
                                 preserve_index=False)
    return table.to_pandas(types_mapper=pd.ArrowDtype)


# -- polars ---------------------------------------------------------------------------------------
def polars_input(inv: pd.DataFrame):
    import polars as pl
    return pl.from_pandas(inv[COLUMNS].assign(**{CUR: inv[CUR].astype(str).where(inv[CUR].notna(), None)}))


def polars_overdue(df):
    import polars as pl
    today = pl.lit(TODAY.astype("datetime64[us]").item())
    return (df.filter(pl.col("is_invoice") & pl.col("owed") & (pl.col("due") < today)
                      & pl.col("followup_excluded").is_null())
            .group_by(["client_id", CUR])
            .agg(n=pl.len(), owed=pl.col("amount_residual_signed").sum(), oldest=pl.col("due").min(),
                 worst=(today - pl.col("due")).dt.total_days().max())
            .sort(["client_id", CUR]))


def polars_punctual(df):
    import polars as pl
    today = pl.lit(TODAY.astype("datetime64[us]").item())
    since = pl.lit(SINCE.astype("datetime64[us]").item())
    paid = df.filter(pl.col("is_invoice") & pl.col("settled") & (pl.col("paid_date") > since)
                     & (pl.col("paid_date") <= today))
    late = (pl.col("paid_date") - pl.col("due")).dt.total_seconds() / 86400.0
    paid = paid.select("client_id", paid=pl.lit(1), late=(late > 0).cast(pl.Int64), delay=late.clip(lower_bound=0))
    over = df.filter(pl.col("is_invoice") & pl.col("owed") & (pl.col("due") < today)).select(
        "client_id", paid=pl.lit(0), late=pl.lit(1, dtype=pl.Int64),
        delay=(today - pl.col("due")).dt.total_seconds() / 86400.0)
    paid_flag = pl.col("paid").cast(pl.Int32)
    both = pl.concat([paid.with_columns(paid_flag), over.with_columns(paid_flag)])
    return (both.group_by("client_id")
            .agg(n=pl.len(), n_paid=pl.col("paid").sum(), n_late=pl.col("late").sum(), avg=pl.col("delay").mean())
            .sort("client_id"))


def polars_back(df) -> dict:
    out = {}
    for col in df.columns:
        s = df.get_column(col)
        if col == CUR:
            out[col] = np.asarray(s.to_list(), dtype=object)
        elif col == "oldest":
            out[col] = s.to_numpy().astype("datetime64[ns]")
        elif col in ("owed", "avg"):
            out[col] = s.to_numpy().astype("float64")
        else:
            out[col] = s.to_numpy().astype("int64")
    return out


# -- DuckDB ---------------------------------------------------------------------------------------
def duckdb_input(inv: pd.DataFrame):
    import duckdb
    import pyarrow as pa
    con = duckdb.connect()
    table = pa.Table.from_pandas(inv[COLUMNS].assign(**{CUR: inv[CUR].astype(str).where(inv[CUR].notna(), None)}),
                                 preserve_index=False)
    con.register("inv", table)
    return con


DUCK_OVERDUE = f"""
SELECT client_id, {CUR}, count(*) AS n, sum(amount_residual_signed) AS owed, min(due) AS oldest,
       max(date_diff('day', due, TIMESTAMP '{AS_OF}')) AS worst
FROM inv WHERE is_invoice AND owed AND due < TIMESTAMP '{AS_OF}' AND followup_excluded IS NULL
GROUP BY ALL ORDER BY client_id, {CUR}"""
DUCK_PUNCTUAL = f"""
WITH paid AS (SELECT client_id, 1 AS paid, epoch(paid_date - due) / 86400.0 AS late FROM inv
              WHERE is_invoice AND settled AND paid_date > TIMESTAMP '{AS_OF}' - INTERVAL 365 DAY
                AND paid_date <= TIMESTAMP '{AS_OF}'),
     both_ AS (SELECT client_id, paid, (late > 0)::BIGINT AS late, greatest(late, 0) AS delay FROM paid
               UNION ALL
               SELECT client_id, 0, 1, epoch(TIMESTAMP '{AS_OF}' - due) / 86400.0 FROM inv
               WHERE is_invoice AND owed AND due < TIMESTAMP '{AS_OF}')
SELECT client_id, count(*) AS n, sum(paid) AS n_paid, sum(late) AS n_late, avg(delay) AS avg
FROM both_ GROUP BY client_id ORDER BY client_id"""


def duckdb_run(sql):
    return lambda con: con.sql(sql).to_arrow_table()


def duckdb_back(table) -> dict:
    out = {}
    for col in table.column_names:
        arr = table.column(col)
        if col == CUR:
            out[col] = np.asarray(arr.to_pylist(), dtype=object)
        elif col == "oldest":
            out[col] = arr.to_numpy().astype("datetime64[ns]")
        elif col in ("owed", "avg"):
            out[col] = arr.to_numpy().astype("float64")
        else:
            out[col] = arr.to_numpy().astype("int64")
    return out


def installed(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def contenders():
    """(name, needs, input conversion, overdue kernel, punctual kernel, back to NumPy)."""
    return [
        ("pandas, the project's dtypes", None, lambda inv: inv, pandas_overdue, pandas_punctual, pandas_back),
        ("pandas, NumPy dtypes", None, to_numpy_dtypes, pandas_overdue, pandas_punctual, pandas_back),
        ("pandas, Arrow dtypes", "pyarrow", to_arrow_dtypes, pandas_overdue, pandas_punctual, pandas_back),
        ("polars", "polars", polars_input, polars_overdue, polars_punctual, polars_back),
        ("DuckDB", "duckdb", duckdb_input, duckdb_run(DUCK_OVERDUE), duckdb_run(DUCK_PUNCTUAL), duckdb_back),
    ]


def same(want: dict, got: dict, name: str) -> None:
    assert list(want) == list(got), (name, list(want), list(got))
    for col in want:
        w, g = want[col], got[col]
        if w.dtype.kind == "f":
            assert np.allclose(w, g, rtol=0, atol=1e-6), (name, col)
        else:
            assert (w == g).all(), (name, col)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    snap = generate(args.invoices, args.clients, 2_000)
    inv = F.invoices(snap)
    print(f"{len(inv):,} invoices and credit notes of {args.clients:,} clients; best of {args.repeat}; "
          f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    head = (f"{'engine':30} {'input':>7} {'overdue':>8} {'→NumPy':>7} {'punctual':>9} {'→NumPy':>7} "
            f"{'kernels+back':>13}")
    print(head)
    print("-" * len(head))
    reference = None
    for name, needs, convert, overdue, punctual, back in contenders():
        if needs and not installed(needs):
            print(f"{name:30} skipped: {needs} not installed")
            continue
        t_in, data = best(args.repeat, lambda: convert(inv))
        t_o, r_o = best(args.repeat, lambda: overdue(data))
        t_ob, a_o = best(args.repeat, lambda: back(r_o))
        t_p, r_p = best(args.repeat, lambda: punctual(data))
        t_pb, a_p = best(args.repeat, lambda: back(r_p))
        if reference is None:
            reference = (a_o, a_p)
        else:
            same(reference[0], a_o, name)
            same(reference[1], a_p, name)
        print(f"{name:30} {t_in:7.3f} {t_o:8.3f} {t_ob:7.3f} {t_p:9.3f} {t_pb:7.3f} {t_o + t_ob + t_p + t_pb:13.3f}")
    print(f"({len(reference[0]['n']):,} client-currency groups overdue, {len(reference[1]['n']):,} clients "
          f"with a payment record; every contender's arrays equal the project's)")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")


if __name__ == "__main__":
    main()
