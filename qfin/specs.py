"""TOML specs read into pydantic models, with errors for people (layer 0: every capability's specs use this).

DESIGN.md section 4: specs are TOML, parsed with ``tomllib`` into pydantic models, unknown keys are errors, and a
bad spec never yields a traceback from inside a dependency. :func:`read_toml` turns a missing file or bad TOML
into one :class:`~qfin.errors.SpecError` line; :func:`parse_model` validates a dict against a model and turns the
first pydantic problem into one line naming the key (dotted, e.g. ``costs.fees``) and, for an unknown key, the
keys accepted at that place. pydantic is imported only when a spec is validated.
"""

from __future__ import annotations

import contextvars
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from qfin.errors import SpecError

__all__ = ["SpecErrorsOnInit", "describe_validation_error", "parse_model", "read_toml"]

Model = TypeVar("Model")
_PARSING = contextvars.ContextVar("qfin_specs_parsing", default=False)  # inside parse_model: keep pydantic's errors


def read_toml(path: str | Path, what: str = "spec") -> dict[str, Any]:
    """The TOML file ``path`` as a dict; a missing file or invalid TOML is a :class:`SpecError`."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder, not a {what} file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SpecError(f"{path}: not valid TOML ({err})") from None


def _flatten(annotation: Any) -> list[Any]:
    """``annotation`` and every type nested in it (Optional, list[...], Annotated unions, ...), outermost first."""
    found, todo = [], [annotation]
    while todo:
        arg = todo.pop(0)
        found.append(arg)
        todo += list(get_args(arg))
    return found


def _tags(candidates: list[Any]) -> dict[Any, type]:
    """Discriminator value -> model for the models of a union (their ``Literal`` fields); empty for one model."""
    from pydantic import BaseModel

    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    if len(models) < 2:
        return {}
    return {value: m for m in models for f in m.model_fields.values()
            if get_origin(f.annotation) is Literal for value in get_args(f.annotation)}


def _walk(root: type, loc: tuple[Any, ...]) -> tuple[list[Any], type | None]:
    """Follow a pydantic error location from model ``root``: the location as the user wrote it (list indices
    kept, union branch tags dropped: 'EnvPreset' or 'str' in ``str | EnvPreset``, or the ``kind`` value of a
    discriminated union) and the model owning the last key's parent (None where the path leaves the models)."""
    from pydantic import BaseModel

    model: type | None = root
    branches: set[str] = set()  # the tags pydantic may put after a union-typed key
    tags: dict[Any, type] = {}  # discriminator value -> model, after a key holding a discriminated union
    keys: list[Any] = []
    owner: type | None = root
    for part in loc:
        if isinstance(part, int):
            keys.append(part)
            continue
        if part in tags:
            model, owner, tags, branches = tags[part], tags[part], {}, set()
            continue
        if part in branches:
            branches = set()
            continue
        owner = model
        keys.append(part)
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None:
            model, branches, tags = None, set(), {}
            continue
        candidates = _flatten(field.annotation)
        branches = {getattr(c, "__name__", str(c)) for c in candidates[1:]}
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        tags = _tags(candidates)
        model = models[0] if models else None
    return keys, owner


def describe_validation_error(err: Any, root: type) -> str:
    """One problem of a pydantic ``ValidationError`` on model ``root`` as one line: where, what, accepted. An
    unknown key is reported first (in a union such as ``str | Model`` it hides behind the other branch's type
    mismatch); otherwise the first problem."""
    errors = err.errors()
    problem = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    keys, owner = _walk(root, tuple(problem["loc"]))
    where = ".".join(str(part) for part in keys) or "spec"
    if problem["type"] == "extra_forbidden":
        accepted = ", ".join(owner.model_fields) if owner is not None else "see the documentation"
        return f"unknown key {where!r}; accepted: {accepted}"
    if problem["type"] == "missing":
        return f"missing key {where!r}"
    if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
        key, ctx = problem["ctx"]["discriminator"].strip("'"), problem["ctx"]
        given = f"{key} {ctx['tag']!r} is unknown" if "tag" in ctx else f"missing key {key!r}"
        name = next((k for k in reversed(keys) if isinstance(k, str)), None)
        field = owner.model_fields.get(name) if owner is not None and name else None
        tags = _tags(_flatten(field.annotation)) if field is not None else {}
        accepted = ", ".join(repr(t) for t in tags) or ctx.get("expected_tags", "see the documentation")
        return f"{where}: {given}; accepted {key}s: {accepted}"
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if keys else message  # a check of the whole table names its own keys


def parse_model(model: type[Model], raw: Any, source: str | Path) -> Model:
    """``model.model_validate(raw)``, with any validation problem raised as ``SpecError("{source}: ...")``."""
    from pydantic import ValidationError

    token = _PARSING.set(True)
    try:
        return model.model_validate(raw)  # type: ignore[attr-defined]
    except ValidationError as err:
        raise SpecError(f"{source}: {describe_validation_error(err, model)}") from None
    finally:
        _PARSING.reset(token)


class SpecErrorsOnInit:
    """Mixin for pydantic models built in Python (``Config(lr=...)``): a bad argument raises the same one-line
    :class:`SpecError` a bad spec file does, not pydantic's multi-line ``ValidationError``. List it before
    ``BaseModel``: ``class MyConfig(SpecErrorsOnInit, BaseModel)``."""

    def __init__(self, **data: Any) -> None:
        from pydantic import ValidationError

        if _PARSING.get():  # pydantic calls a custom __init__ while validating: parse_model words the error
            super().__init__(**data)
            return
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise SpecError(f"{type(self).__name__}: {describe_validation_error(err, type(self))}") from None
