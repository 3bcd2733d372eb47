"""`qfin backtest SPEC --out DIR`: run a spec, print the metrics table, write metrics, equity and report."""

from __future__ import annotations

from pathlib import Path

import typer

from qfin.cli._tables import console, metrics_tables


def backtest_command(
    spec: Path = typer.Argument(..., help="Backtest spec (TOML), e.g. backtests/sp500.toml."),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: runs/<spec name>)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar while fitting."),
    check_lookahead: bool = typer.Option(
        False, "--check-lookahead",
        help="Then decide again with the bars after each decision scrambled; fail if any decision changes."),
) -> None:
    """Run every strategy of SPEC on the same dates, costs and execution; write metrics.json, equity.parquet and
    an HTML report."""
    from qfin.backtests import load_spec, run_backtest

    out_console = console()
    parsed = load_spec(spec)
    if any(item.kind == "agent" for item in parsed.strategies):
        import qfin.agents  # noqa: F401  (registers kind "agent"; torch and SB3 load only for such specs)
    if any(item.kind == "kline_forecast" for item in parsed.strategies):
        import qfin.kline  # noqa: F401  (registers kind "kline_forecast"; torch loads only for such specs)
    out = out or Path("runs") / spec.stem
    result = run_backtest(parsed, out_dir=out, progress=progress)
    from qfin.cli._trade_table import split_trade_metrics, trade_tables

    metrics, trades = split_trade_metrics(result.metrics)
    for table in metrics_tables(metrics, f"{parsed.name} — {result.notes['data']}", out_console.width):
        out_console.print(table)
    for table in trade_tables(trades, "trade statistics", out_console.width):
        out_console.print(table)
    out_console.print(f"execution: {result.notes['execution']}; costs: {result.notes['costs']}")
    if "benchmark" in result.notes:
        out_console.print(f"benchmark: {result.notes['benchmark']} (alpha, beta, IR, TE, up/down capture against it)")
    for name, row in result.metrics.items():
        if row.get("ruined"):
            out_console.print(f"RUINED: {name} on {row['ruin_date']}: its value fell to zero or below; the run ends "
                              "there (value 0 from that bar on) and its metrics cover the path up to it")
    report = out / "report.html"
    out_console.print(f"wrote {out}/metrics.json, {out}/equity.parquet, {out}/trades.parquet"
                      + (f", {report}" if report.exists() else ""))
    if check_lookahead:
        from qfin.backtests import check_lookahead as check

        found = check(parsed, progress=progress)
        out_console.print("no look-ahead: " + ", ".join(f"{name} ({n} decisions)" for name, n in found.checked.items())
                          if found.ok else f"{len(found.changed)} decision(s) changed when only later bars changed")
        found.raise_if_changed()
