"""Option declarations and value parsers shared by the training CLI commands.

Each option a user sees in several commands (``--song``, ``--hand``, ``--seed``,
``--time-budget`` ...) is declared once here; the commands in ``training.commands`` and
``training.experiment_cli`` use these aliases. Flags generated from a pydantic model
(``model_parameters``) carry the field's description and default, so a config field is
documented, validated and exposed on the command line from one declaration.
"""

from __future__ import annotations

import inspect
import json
import math
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from handspec.errors import InputError

Song = Annotated[str, typer.Option("--song", help="song spec: a built-in name[:chunk], a MIDI "
                                                  "or PIG file[:chunk]")]
Hand = Annotated[str, typer.Option("--hand", help="hand spec name or YAML file")]
Fingering = Annotated[str, typer.Option("--fingering", help="ot | human | annotator (human-style term on the annotator's fingering) | none")]
Seed = Annotated[int, typer.Option("--seed", min=0, max=2 ** 32 - 1, help="seed")]
Progress = Annotated[bool, typer.Option("--progress/--no-progress",
                                        help="progress bars and log lines")]
Policy = Annotated[str | None, typer.Option(
    "--policy", help="a registered policy (random, zero, ...: pianoenv.policy) instead of RUN")]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def budget_seconds(minutes: float | None, flag: str = "--time-budget") -> float | None:
    """``--time-budget`` minutes as seconds; it must be a finite number > 0."""
    if minutes is None:
        return None
    if not (math.isfinite(minutes) and minutes > 0):
        raise InputError(f"must be > 0 minutes (and finite), got {minutes}", field=flag)
    return 60.0 * minutes


WIDTH_FIELDS = ("hidden_dims", "critic_hidden_dims")  # MLP widths: comma-separated on the CLI


def parse_hidden_dims(text: str, flag: str = "--hidden-dims") -> tuple[int, ...]:
    """``256,256,256`` -> (256, 256, 256); anything else is an InputError naming ``flag``."""
    try:
        dims = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise InputError(f"expected comma-separated positive widths like 256,256,256, got {text!r}",
                         field=flag)
    return dims


def parse_key_values(items: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` items (VALUE read as JSON, else kept as a string) -> a dict."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected KEY=VALUE, got {item!r}", field=flag)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def field_option(name: str, info: FieldInfo) -> tuple[Any, Any]:
    """(annotation, typer.Option) for one model field; every such option defaults to None
    (left out = keep the model's value), and the help shows the model's default."""
    help_text = info.description or ""
    default = info.get_default(call_default_factory=True)
    if name in WIDTH_FIELDS:
        shown = ",".join(map(str, default)) if default else "hidden_dims"
        return str | None, typer.Option(_flag(name), help=f"{help_text} (default: {shown})")
    if name == "env_kwargs":
        return list[str] | None, typer.Option(
            "--env-arg", help="extra pianoenv task argument KEY=VALUE (JSON value), repeatable")
    if default is None:
        return float | None, typer.Option(_flag(name), help=help_text)
    kind = type(default)
    if kind is bool:
        return bool | None, typer.Option(f"{_flag(name)}/--no-{name.replace('_', '-')}",
                                         help=f"{help_text} (default: {default})")
    return kind | None, typer.Option(_flag(name), help=f"{help_text} (default: {default})")


def model_parameters(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[inspect.Parameter]:
    """Keyword-only command parameters, one per field of ``model`` (nested models skipped)."""
    params = []
    for name, info in model.model_fields.items():
        nested = isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
        if name in skip or nested:
            continue
        annotation, option = field_option(name, info)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Annotated[annotation, option]))
    return params


def option_value(name: str, value: Any) -> Any:
    """A CLI value in the model's type (``--hidden-dims`` text, ``--env-arg`` items)."""
    if name in WIDTH_FIELDS:
        return parse_hidden_dims(value, _flag(name))
    if name == "env_kwargs":
        return parse_key_values(value, "--env-arg")
    return value


def with_parameters(function: Any, params: list[inspect.Parameter]) -> Any:
    """Give ``function(**options)`` the signature ``params`` (what typer reads)."""
    function.__signature__ = inspect.Signature(params)
    function.__annotations__ = {p.name: p.annotation for p in params}
    return function


def keyword(name: str, annotation: Any,
            default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    """A keyword-only command parameter (``annotation`` carries the typer option)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)
