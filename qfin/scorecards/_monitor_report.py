"""Write a :class:`MonitoringReport` to a folder, all or nothing (qfin.data's staged output): monitoring.json,
features.csv, characteristic.csv, alerts.csv, discrimination.csv (with targets), psi.png and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qfin import report
from qfin.data import check_output_dir, config_hash, staged_output

__all__ = ["write_monitoring"]

KIND = "monitoring"


def write_monitoring(result: Any, out_dir: str | Path, title: str = "Scorecard monitoring") -> Path:
    """Write ``result`` (:func:`qfin.scorecards.monitor`) under ``out_dir``; return the report's path."""
    out_dir = check_output_dir(out_dir, KIND)
    with staged_output(out_dir, KIND, spec_hash=config_hash(result.settings)) as t:
        (t / "monitoring.json").write_text(result.to_json(), encoding="utf-8")
        result.features.write_csv(t / "features.csv")
        result.characteristic.write_csv(t / "characteristic.csv")
        result.alerts.write_csv(t / "alerts.csv")
        if result.discrimination is not None:
            result.discrimination.write_csv(t / "discrimination.csv")
        figures = {"psi.png": _psi_chart(result)}
        report.write_page(t / "report.html", _html(result, title, figures), figures)
    return out_dir / "report.html"


def _psi_chart(result: Any) -> bytes:
    frame = result.to_frame()
    fig = report.new_figure(6, max(3.0, 0.25 * frame.height))
    ax = fig.add_subplot()
    colors = {"stable": "tab:green", "watch": "tab:orange", "shifted": "tab:red"}
    ax.barh([report.figure_text(c) for c in frame["feature"].to_list()], frame["psi"].to_numpy(),
            xerr=1.96 * frame["std_error"].to_numpy(), color=[colors[s] for s in frame["status"].to_list()])
    for x in result.settings["thresholds"]:
        ax.axvline(x, color="k", ls=":", lw=0.7)
    ax.tick_params(axis="y", labelsize=6)
    ax.set_xlabel("PSI reference vs new (bars: ±1.96 SE; lines: watch / shifted)")
    fig.tight_layout()
    return report.png_bytes(fig, dpi=90)


def _html(result: Any, title: str, figures: dict[str, bytes]) -> str:
    s = result.score
    alerts = result.alerts
    summary = (f"{s['reference_rows']} reference and {s['new_rows']} new rows; mean score {s['reference_mean']:.1f} "
               f"-> {s['new_mean']:.1f}; score PSI {s['psi']:.4f} ± {s['std_error']:.4f} (p = {s['p_value']:.3g}, "
               f"{s['status']}); {alerts.height} alert(s) and warning(s).")
    quiet = report.paragraph("None: every check is within its limit.")
    parts = [report.paragraph(summary), report.heading("Alerts"),
             report.frame_table(alerts) if alerts.height else quiet,
             report.heading("Stability per feature and for the score"),
             report.image(figures["psi.png"], "psi"), report.frame_table(result.to_frame())]
    if result.discrimination is not None:
        parts += [report.heading("Discrimination drift (95% bootstrap intervals)"),
                  report.frame_table(result.discrimination)]
    parts += [report.heading("Characteristic analysis (points shift = (new share - reference share) x points)"),
              report.frame_table(result.characteristic)]
    return report.page(f"{title} (qfin.scorecards)", *parts)
