"""K-line model on CPU: generation with the KV cache against full-prefix recomputation (issue 8), plus
tokenizer throughput.

Work: the CPU config's networks (``qfin.kline.cpu_config()``, untrained weights: speed does not depend on
them), a 64-bar context, 64-step generation of --paths sample paths. The peer is the same model generating the
way Kronos (arXiv 2508.02739, reference code) does, re-running the whole prefix at every step
(``use_cache=False``); both draw the same tokens from the same seed (checked before timing). Target: the KV
cache at least 3x faster for 64-step generation. Figures: paths x steps / s and tokenizer bars / s.
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def best_of(fn, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=32)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="write the results here (bench/run_all.py)")
    args = ap.parse_args()

    from qfin.kline import KlineModel, KlineTokenizer, cpu_config

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = cpu_config()
    tok, model = KlineTokenizer(cfg.tokenizer).eval(), KlineModel(cfg.model).eval()
    b, t0, n = args.paths, args.context, args.steps
    x = torch.randn(b, t0, 5)
    c, f = tok.encode(x)
    cal = torch.stack([torch.arange(t0 + n) % 5, (torch.arange(t0 + n) // 21) % 12], -1).expand(b, -1, -1)

    def gen(cache: bool):
        return model.generate(c, f, cal, n, generator=torch.Generator().manual_seed(0), use_cache=cache)

    a, p = gen(True), gen(False)
    assert torch.equal(a[0], p[0]) and torch.equal(a[1], p[1]), "cache and recompute must draw the same tokens"
    s_cache = best_of(lambda: gen(True), args.repeats)
    s_full = best_of(lambda: gen(False), args.repeats)
    xt = torch.randn(256, cfg.lookback + cfg.horizon, 5)
    s_tok = best_of(lambda: tok.encode(xt), args.repeats)
    bars_per_s = xt.shape[0] * xt.shape[1] / s_tok
    res = {"name": f"kline generate {b} paths x {n} steps (CPU, {args.threads} thread)", "qfin_s": s_cache,
           "peer": "same model, no KV cache (Kronos-style recompute)", "peer_s": s_full,
           "ratio": s_full / s_cache, "paths_steps_per_s_cache": b * n / s_cache,
           "paths_steps_per_s_recompute": b * n / s_full, "tokenizer_bars_per_s": bars_per_s,
           "target_ratio": 3.0}
    print(f"generation {b} x {n}: KV cache {s_cache:.3f} s ({b * n / s_cache:,.0f} paths*steps/s), "
          f"recompute {s_full:.3f} s ({b * n / s_full:,.0f}/s); speed-up {s_full / s_cache:.2f}x (target 3x)")
    print(f"tokenizer encode: {bars_per_s:,.0f} bars/s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
