"""What ``qfin dp solve`` shows, as files: the optimal return law beside the risk-neutral one (PNG) and an HTML
page with the value, the stock-augmented policy on the states it reaches and that figure (:mod:`qfin.report`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qfin import report
from qfin.data import check_output_dir, recorded_files
from qfin.dp._exact import DPResult

__all__ = ["plot_return_distributions", "return_distributions_png", "write_solve_report"]


def return_distributions_png(result: DPResult, neutral: DPResult) -> bytes:
    """PNG bytes of the optimal return law's atoms and probabilities beside the risk-neutral policy's."""
    fig = report.new_figure(7, 3.5)
    ax = fig.add_subplot()
    atoms = np.union1d(result.atoms, neutral.atoms)
    width = 0.4 * (np.min(np.diff(atoms)) if atoms.size > 1 else 1.0)
    ax.bar(result.atoms - width / 2, result.probabilities, width=width,
           label=f"optimal ({type(result.objective).__name__})")
    ax.bar(neutral.atoms + width / 2, neutral.probabilities, width=width, label="risk-neutral (max mean)")
    ax.set_xlabel("return G")
    ax.set_ylabel("probability")
    ax.legend()
    fig.tight_layout()
    return report.png_bytes(fig, dpi=100)


def plot_return_distributions(result: DPResult, neutral: DPResult, path: str | Path) -> Path:
    """Write :func:`return_distributions_png` to ``path`` (a temporary name, then renamed); return ``path``."""
    path = Path(path)
    report.write_files(path.parent, {path.name: return_distributions_png(result, neutral)})
    return path


def report_files(path: str | Path) -> list[str]:
    """The names :func:`write_solve_report` writes for the HTML file ``path``: the page and its PNG."""
    path = Path(path)
    return [path.name, path.with_suffix(".png").name]


def write_solve_report(path: str | Path, result: DPResult, neutral: DPResult, rows: Sequence[dict], *,
                       title: str, spec_hash: str | None = None) -> Path:
    """Write the HTML report of one solved problem at ``path`` and its figure at ``path`` with suffix ``.png``.

    The folder is not qfin's: other files in it stay, and the two files are written only if each is absent or
    was written there by qfin dp before (recorded in the folder's ``.qfin-manifest.json``,
    :func:`qfin.data.recorded_files`); anything else is refused before a byte is written.

    Parameters
    ----------
    path : the HTML file, e.g. ``runs/dp/liquidation.html``; the PNG is written beside it
        (``runs/dp/liquidation.png``), both or neither.
    result, neutral : the optimal and the risk-neutral :class:`DPResult` (from :func:`qfin.dp.solve_spec`).
    rows : the policy rows (t, state, stock, action, probability) on the states the policy reaches.
    title : the page heading, e.g. the spec's file name.
    spec_hash : the hash of the problem spec (:func:`qfin.data.config_hash`), recorded in the manifest.
    """
    path = Path(path)
    check_output_dir(path.parent, "dp", files=report_files(path))
    png = return_distributions_png(result, neutral)
    objective = type(result.objective).__name__
    summary = [("objective", _describe(result.objective)), ("method", result.method),
               ("optimal value", report.format_number(result.value, ".6g")),
               ("start stock c0", report.format_number(result.initial_stock, "g")),
               ("risk-neutral policy's value", report.format_number(result.objective.evaluate(neutral.distribution),
                                                                    ".6g")),
               ("risk-neutral policy's mean", report.format_number(neutral.value, ".6g"))]
    policy = [(row["t"], str(row["state"]), report.format_number(row["stock"], ".4g"), row["action"],
               report.format_number(row["probability"], ".4f")) for row in rows]
    document = report.page(
        f"{title}: {objective}",
        report.table(summary, row_headers=True, css_class="notes"),
        report.heading("Policy on the states it reaches"),
        report.paragraph("Stock c_t = (c0 + sum_{k<t} gamma^k r_k) / gamma^t: the start stock plus the discounted "
                         "rewards so far, carried in the state (stock augmentation, Pires et al. 2025); probability: "
                         "the chance that the policy is in that augmented state at t.", css_class="note"),
        report.table(policy, ["t", "state", "stock c_t", "action", "probability"]),
        report.heading("Return distribution"),
        report.image(png, "optimal and risk-neutral return distributions",
                     f"Law of the return G under the optimal policy ({objective}) and the risk-neutral one"))
    with recorded_files(path.parent, "dp", report_files(path), spec_hash=spec_hash):
        return report.write_page(path, document, {path.with_suffix(".png").name: png})


def _describe(objective: object) -> str:
    """``CVaR(alpha=0.1)``: the objective's class and its numeric parameters."""
    params = ", ".join(f"{key}={value:g}" for key, value in vars(objective).items()
                       if not key.startswith("_") and isinstance(value, (int, float)))
    return f"{type(objective).__name__}({params})"
