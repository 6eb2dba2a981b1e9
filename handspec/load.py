"""Find, read, derive and validate hand YAML files.

A hand is named (``shadow_five``: looked up in the shipped ``hands/`` folder and in every
folder of ``$PIANOHANDS_HANDS_PATH``) or given as a path. ``extends:`` derives one hand from
another: the child's mapping is deep-merged onto the parent's, fingers are merged by name,
then ``remove_fingers`` drops fingers. Every failure becomes one ``InputError`` naming the
file and the field.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from handspec.errors import InputError
from handspec.spec import CANONICAL_FINGERS, HandSpec

SHIPPED_HANDS = Path(__file__).resolve().parent.parent / "hands"
_MAX_EXTENDS_DEPTH = 8


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("PIANOHANDS_HANDS_PATH", "").split(os.pathsep) if p]
    return extra + [SHIPPED_HANDS]


def available_hands() -> dict[str, Path]:
    """Every named hand on the search path (first folder wins on a name clash)."""
    found: dict[str, Path] = {}
    for folder in reversed(search_path()):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            found[path.stem] = path
    return dict(sorted(found.items()))


def resolve_hand_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    text = str(name_or_path)
    candidate = Path(text)
    if relative_to is not None and not candidate.is_absolute():
        local = relative_to / candidate
        if local.suffix in (".yaml", ".yml") and local.exists():
            return local
        sibling = relative_to / f"{text}.yaml"
        if sibling.exists():
            return sibling
    if candidate.suffix in (".yaml", ".yml") or os.sep in text:
        if not candidate.exists():
            raise InputError("no such file", file=candidate)
        return candidate
    hands = available_hands()
    if text not in hands:
        known = ", ".join(hands) or "none"
        raise InputError(f"unknown hand '{text}' (known: {known}; or give a path to a .yaml)")
    return hands[text]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"malformed YAML: {problem}", file=path, field=where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=path) from None
    if not isinstance(data, dict):
        raise InputError("a hand file must be a YAML mapping (key: value)", file=path)
    return data


def _merge(base: Any, child: Any) -> Any:
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return child


def _merge_fingers(base: list, child: list, path: Path) -> list:
    by_name = {f.get("name"): f for f in base if isinstance(f, dict)}
    order = [f.get("name") for f in base if isinstance(f, dict)]
    for finger in child:
        if not isinstance(finger, dict) or "name" not in finger:
            raise InputError("each finger override needs a name", file=path, field="fingers")
        name = finger["name"]
        by_name[name] = _merge(by_name[name], finger) if name in by_name else finger
        if name not in order:
            order.append(name)
    return [by_name[n] for n in order]


def _resolve(path: Path, depth: int = 0) -> dict[str, Any]:
    data = _read_yaml(path)
    parent_name = data.pop("extends", None)
    removals = data.pop("remove_fingers", None)
    if parent_name is not None:
        if depth >= _MAX_EXTENDS_DEPTH:
            raise InputError("extends chain too deep (a cycle?)", file=path, field="extends")
        if not isinstance(parent_name, str):
            raise InputError("must be a hand name or a path", file=path, field="extends")
        try:
            parent_path = resolve_hand_path(parent_name, relative_to=path.parent)
        except InputError as exc:
            raise InputError(exc.message, file=path, field="extends") from None
        parent = _resolve(parent_path, depth + 1)
        child_fingers = data.pop("fingers", None)
        merged = _merge(parent, data)
        if child_fingers is not None:
            if not isinstance(child_fingers, list):
                raise InputError("must be a list of fingers", file=path, field="fingers")
            merged["fingers"] = _merge_fingers(parent.get("fingers", []), child_fingers, path)
        data = merged
    elif removals is not None and "fingers" not in data:
        raise InputError("remove_fingers needs fingers (or extends)", file=path,
                         field="remove_fingers")
    if removals is not None:
        if not isinstance(removals, list) or not all(isinstance(r, str) for r in removals):
            raise InputError("must be a list of finger names", file=path, field="remove_fingers")
        present = [f.get("name") for f in data.get("fingers", []) if isinstance(f, dict)]
        for name in removals:
            if name not in present:
                hint = "" if name in CANONICAL_FINGERS else \
                    f" (finger names: {', '.join(CANONICAL_FINGERS)})"
                raise InputError(f"finger '{name}' does not exist in this hand "
                                 f"(has: {', '.join(map(str, present))}){hint}",
                                 file=path, field="remove_fingers")
        data["fingers"] = [f for f in data["fingers"] if f.get("name") not in removals]
    mj = data.get("mjcf")
    if isinstance(mj, dict):  # external model files are relative to the YAML that names them
        for key in ("file", "left_file"):
            if isinstance(mj.get(key), str) and not Path(mj[key]).is_absolute():
                mj[key] = str((path.parent / mj[key]).resolve())
    return data


def _field_path(loc: tuple, data: dict) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = str(item)
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict) \
                    and isinstance(node[item].get("name"), str):
                label = node[item]["name"]
            parts[-1:] = [f"{parts[-1]}[{label}]" if parts else f"[{label}]"]
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            if item in ("function-after", "tagged-union") or "[" in str(item):
                continue
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def validate_hand_data(data: dict[str, Any], path: Path | str = "<memory>") -> HandSpec:
    """Validate an already-merged mapping; the first problem becomes an InputError."""
    try:
        return HandSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise InputError(message, file=path, field=_field_path(err["loc"], data)) from None


def load_hand(name_or_path: str | Path) -> HandSpec:
    """Load a hand by name or path, resolving ``extends`` and ``remove_fingers``."""
    path = resolve_hand_path(name_or_path)
    spec = validate_hand_data(_resolve(path), path)
    if spec.mjcf is not None:
        for key in ("file", "left_file"):
            value = getattr(spec.mjcf, key)
            if value is not None and not Path(value).exists():
                raise InputError(f"MJCF file not found: {value}", file=path, field=f"mjcf.{key}")
    return spec


def spec_hash(spec: HandSpec) -> str:
    """Content hash of a resolved spec: identifies the exact hand behind a dataset."""
    return hashlib.sha256(spec.model_dump_json(by_alias=True).encode()).hexdigest()[:16]
