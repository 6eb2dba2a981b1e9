"""The ``pianohands`` console script: assembles each package's ``cli.py`` into one app.

Bad input never shows a traceback: an ``InputError`` or a usage error prints one line
(``error: <file>: <field>: <what is wrong>``) and exits with code 2. Sub-apps import their
heavy dependencies inside the commands, so ``pianohands --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

try:  # typer >= 0.2x vendors click as typer._click; older releases depend on click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover
    from click import exceptions as click_exc

from handspec.errors import InputError

app = typer.Typer(
    name="pianohands",
    help="Robot hands that play the piano: hands, songs, fingering, environment, training.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def fingering_app() -> typer.Typer:
    """``fingering``'s commands with the songs layer's loader: fingering sits below
    pianoenv and never imports it, so the app layer hands the loader down."""
    from fingering.cli import make_app
    from pianoenv.songs import load_song

    return make_app(load_song=load_song)


def _register() -> None:
    """Attach every package's sub-app (``name``: a Typer or a function building one) or
    top-level commands (``register`` fn)."""
    if app.registered_groups or app.registered_commands:
        return  # main() may run many times in one process (tests)
    subapps = (("handspec.cli", "app", "hand"), ("pianoenv.cli", "song_app", "song"),
               (__name__, "fingering_app", "fingering"), ("pianoenv.env_cli", "app", "env"),
               ("training.dataset_cli", "dataset_app", "dataset"),
               ("training.experiment_cli", "experiment_app", "experiment"),
               ("training.commands", "register", None),
               ("training.dataset_cli", "register_collect", None))
    for module, attr, name in subapps:
        member = getattr(importlib.import_module(module), attr)
        if name is None:
            member(app)
        else:
            app.add_typer(member if isinstance(member, typer.Typer) else member(), name=name)


def fail(message: str) -> "typer.Exit":
    """Print one error line to stderr and return the exit to raise (code 2)."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(code=2)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering; must precede mujoco import
    _register()
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="pianohands", standalone_mode=False)
    except InputError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        return 2
    except click_exc.NoArgsIsHelpError:
        return 0
    except click_exc.UsageError as exc:
        ctx = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        typer.echo(f"error: {' '.join(exc.format_message().split())}{ctx}", err=True)
        return 2
    except click_exc.Exit as exc:
        return exc.exit_code
    except click_exc.Abort:
        typer.echo("error: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        return 130
    return result if isinstance(result, int) else 0  # non-standalone click returns Exit codes


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
