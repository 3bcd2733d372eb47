"""scorecards/german_credit.py runs end to end and writes its report."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_german_credit_workbench(tmp_path):
    spec = importlib.util.spec_from_file_location("german_credit", ROOT / "scorecards" / "german_credit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "run"
    metrics = mod.main(out)
    for name in ("metrics.json", "iv_table.csv", "points_table.csv", "frontier.csv", "stability.csv", "roc.png",
                 "frontier.png", "stability.png", "report.html", "woe_duration_in_month.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test_metrics"] == json.loads(json.dumps(metrics))
    for enc in ("woe", "onehot", "stumps"):
        assert 0.70 < metrics[enc]["auc"]["value"] < 0.90
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64") >= 22
