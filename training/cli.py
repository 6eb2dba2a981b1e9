"""The ``pianohands`` console script: assembles each package's ``cli.py`` into one app.

No input shows a traceback: an ``InputError``, a usage error, an OS error (a read-only or
full disk, ``--out`` under a file) or anything unexpected prints one line
(``error: <file>: <field>: <what is wrong>``) and exits with code 2; see ``main``. Sub-apps import their
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
from training.signals import EXIT_SIGINT, EXIT_SIGTERM, Terminated, sigterm_as_exit

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


def _error_line(exc: BaseException) -> str:
    """One line for an exception that is not an ``InputError``: what a user can act on."""
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else None
        what = exc.strerror or str(exc) or type(exc).__name__
        return f"{where}: {what}" if where is not None else what
    if isinstance(exc, RecursionError):
        return "input nested too deeply to process"
    if isinstance(exc, MemoryError):
        return "out of memory (is an input far larger than intended?)"
    text = str(exc) or "(no message)"
    return f"internal error ({type(exc).__name__}): {text}"


def _silence_stdout() -> None:
    """stdout's reader went away (``| head``): point fd 1 at /dev/null so that the final
    flush at exit cannot raise again, as the Python docs advise for SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _broken_pipe(exc: BaseException) -> bool:
    seen = exc
    while seen is not None:
        if isinstance(seen, BrokenPipeError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _echo_error(text: str) -> None:
    try:
        typer.echo(f"error: {' '.join(text.split())}", err=True)
    except (OSError, ValueError):  # stderr closed too: nothing left to tell
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code. No exception escapes as a traceback: bad input,
    OS errors and anything unexpected become one ``error:`` line and exit code 2; Ctrl-C
    exits 130, SIGTERM 143 (``training.signals``), and a closed stdout (``| head``) ends
    the command silently with 0. ``PIANOHANDS_DEBUG=1`` re-raises unexpected errors."""
    os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering; must precede mujoco import
    _register()
    command = typer.main.get_command(app)
    try:
        with sigterm_as_exit():
            result = command.main(args=argv, prog_name="pianohands", standalone_mode=False)
    except InputError as exc:
        _echo_error(exc.one_line())
        return 2
    except click_exc.NoArgsIsHelpError:
        return 0
    except click_exc.UsageError as exc:
        ctx = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        _echo_error(f"{exc.format_message()}{ctx}")
        return 2
    except click_exc.ClickException as exc:  # a bad file argument and the like
        _echo_error(exc.format_message())
        return 2
    except (typer.Abort, KeyboardInterrupt):
        _echo_error("interrupted")
        return EXIT_SIGINT
    except Terminated:
        _echo_error("terminated")
        return EXIT_SIGTERM
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except SystemExit as exc:  # typer and rich turn a broken pipe into SystemExit(1)
        if _broken_pipe(exc):
            _silence_stdout()
            return 0
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get("PIANOHANDS_DEBUG"):
            raise
        _echo_error(_error_line(exc))
        return 2
    if result == EXIT_SIGINT:  # typer turned Ctrl-C into Exit(130)
        _echo_error("interrupted")
    return result if isinstance(result, int) else 0  # non-standalone click returns Exit codes


def entry() -> None:
    """Console-script entry point."""
    code = main()
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _silence_stdout()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
