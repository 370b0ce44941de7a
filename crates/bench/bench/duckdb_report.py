# The DuckDB baseline of `tanji-bench report` (crates/bench/src/report.rs runs it with
# `python3 -c`; it needs the `duckdb` package: `pip install duckdb`).
#
# argv: READINGS_CSV FACTORS_CSV WORKDIR ROUNDS
#   readings: meter,enterprise,carrier,ts,value  (ts: interval start, Unix s; value: thousandths
#             of the meter's unit, i.e. Wh for electricity)
#   factors:  hour_start,g_per_kwh               (hour_start: Unix s)
#
# Setup (not timed): the CSVs become WORKDIR/readings.parquet and WORKDIR/factors.parquet.
# Timed (time.perf_counter around the query only, fastest of ROUNDS, SET threads=1):
#   parquet: the query over the Parquet files;
#   memory:  the same query over tables already loaded into an in-memory database.
# The query is tanji's location-based grid-electricity figure: every grid-import reading
# joined to the factor of the hour it starts in, multiplied (g = Wh × g/kWh / 1000, rounded
# per interval as tanji does), summed per enterprise.
# Prints one JSON object on stdout.

import json
import os
import sys
import time

import duckdb

readings_csv, factors_csv, workdir, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
readings_pq = os.path.join(workdir, "readings.parquet")
factors_pq = os.path.join(workdir, "factors.parquet")

QUERY = """
SELECT r.enterprise,
       count(*)::BIGINT AS intervals,
       sum(r.value)::BIGINT AS wh,
       sum(round(r.value * f.g_per_kwh / 1000.0))::BIGINT AS g
FROM {readings} r
JOIN {factors} f ON f.hour_start = r.ts // 3600 * 3600
WHERE r.carrier = 'electricity_import'
GROUP BY r.enterprise
ORDER BY r.enterprise
"""


def connect():
    con = duckdb.connect()  # an in-memory database
    con.execute("SET enable_progress_bar = false")  # it would print on stdout
    return con


setup = connect()
setup.execute(
    f"""COPY (SELECT * FROM read_csv('{readings_csv}', header = true, columns = {{
            'meter': 'VARCHAR', 'enterprise': 'VARCHAR', 'carrier': 'VARCHAR',
            'ts': 'BIGINT', 'value': 'BIGINT'}}))
        TO '{readings_pq}' (FORMAT parquet)"""
)
setup.execute(
    f"""COPY (SELECT * FROM read_csv('{factors_csv}', header = true, columns = {{
            'hour_start': 'BIGINT', 'g_per_kwh': 'DOUBLE'}}))
        TO '{factors_pq}' (FORMAT parquet)"""
)
rows = setup.execute(f"SELECT count(*) FROM '{readings_pq}'").fetchone()[0]
factor_rows = setup.execute(f"SELECT count(*) FROM '{factors_pq}'").fetchone()[0]
parquet_bytes = os.path.getsize(readings_pq) + os.path.getsize(factors_pq)
setup.close()


def best_of(con, readings, factors):
    con.execute("SET threads = 1")
    sql = QUERY.format(readings=readings, factors=factors)
    best, result = None, None
    for _ in range(rounds):
        t = time.perf_counter()
        result = con.execute(sql).fetchall()
        s = time.perf_counter() - t
        best = s if best is None else min(best, s)
    return best, result


con = connect()
parquet_s, parquet_result = best_of(con, f"'{readings_pq}'", f"'{factors_pq}'")
con.close()

con = connect()
con.execute(f"CREATE TABLE readings AS SELECT * FROM '{readings_pq}'")
con.execute(f"CREATE TABLE factors AS SELECT * FROM '{factors_pq}'")
memory_s, memory_result = best_of(con, "readings", "factors")
threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
con.close()


def per_enterprise(result):
    return [{"enterprise": e, "intervals": n, "wh": wh, "g": g} for (e, n, wh, g) in result]


print(
    json.dumps(
        {
            "duckdb": duckdb.__version__,
            "threads": threads,
            "rows": rows,
            "factor_rows": factor_rows,
            "parquet_bytes": parquet_bytes,
            "parquet": {"seconds": parquet_s, "enterprises": per_enterprise(parquet_result)},
            "memory": {"seconds": memory_s, "enterprises": per_enterprise(memory_result)},
        }
    )
)
