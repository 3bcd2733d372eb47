"""Pre-trained K-line checkpoints shipped inside the package (no download): ``pretrained/<name>.pt`` holds the
tokenizer and model state dicts (loaded with ``weights_only=True``), ``<name>.json`` the model card (config, corpus,
budget, seed, evaluation) and ``<name>.md`` the same card for people."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import CheckpointError, SpecError
from ._config import KlineTrainConfig
from ._model import KlineModel
from ._tokenizer import KlineTokenizer

__all__ = ["PRETRAINED_DIR", "export_pretrained", "load_pretrained", "pretrained_names"]

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def pretrained_names(directory: Path = PRETRAINED_DIR) -> list[str]:
    """Names of the shipped checkpoints (those with both ``.pt`` and ``.json``)."""
    return sorted(p.stem for p in directory.glob("*.pt") if p.with_suffix(".json").exists())


def export_pretrained(checkpoint: str | Path, name: str, card: dict, directory: Path = PRETRAINED_DIR
                      ) -> Path:
    """Write the checkpoint folder's weights to ``directory/name.pt`` and ``card`` (its ``config`` set from the
    folder) to ``name.json``, each through a temporary name and a rename; returns the ``.pt`` path."""
    from ..data import atomic_path, strict_json
    from ._train import load_kline

    config, tok, model = load_kline(checkpoint)
    directory.mkdir(parents=True, exist_ok=True)
    pt, meta = directory / f"{name}.pt", directory / f"{name}.json"
    with atomic_path(pt) as tmp:
        torch.save({"tokenizer": tok.state_dict(), "model": model.state_dict()}, tmp)
    with atomic_path(meta) as tmp:
        Path(tmp).write_text(strict_json({**card, "config": config.to_dict()}) + "\n")
    return pt


def load_pretrained(name: str, directory: Path = PRETRAINED_DIR
                    ) -> tuple[KlineTrainConfig, KlineTokenizer, KlineModel, dict]:
    """(config, tokenizer, model, card) of a shipped checkpoint; an unknown name is a :class:`SpecError` naming
    the shipped ones."""
    from ._train import load_state_dict

    names = pretrained_names(directory)
    if name not in names:
        raise SpecError(f"no pre-trained K-line checkpoint {name!r}; shipped: {names}")
    pt, meta = directory / f"{name}.pt", directory / f"{name}.json"
    card = json.loads(meta.read_text(encoding="utf-8"))
    config = KlineTrainConfig.from_dict(card.get("config"), str(meta))
    try:
        state = torch.load(pt, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{pt}: not a readable K-line checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or set(state) != {"tokenizer", "model"}:
        raise CheckpointError(f"{pt}: expected a dict of 'tokenizer' and 'model' state dicts")
    tok, model = KlineTokenizer(config.tokenizer), KlineModel(config.model)
    load_state_dict(tok, state["tokenizer"], str(pt), "tokenizer")
    load_state_dict(model, state["model"], str(pt), "model")
    return config, tok.eval(), model.eval(), card
