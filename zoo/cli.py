"""Entry-point glue: every tool is a click command that also takes the `key=value` form the
Makefile and the README use, and a user mistake prints one `error: <message>` line with exit
status 2, never a library traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import click

from zoo import interrupts
from zoo.errors import ZooError, access_refused
from zoo.quiet import quiet

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}
MODEL_URI = "models:/NAME@ALIAS|models:/NAME/VERSION"  # how the tools name a registered model
STOPPED = "any MLflow run it had open is closed as KILLED, a running Optuna trial as FAIL"


def fail(message: str, code: int = 2) -> NoReturn:
    """The one-line report of a user mistake."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def stop_on(err: BaseException) -> NoReturn:
    """What every tool does with an error that is no ZooError: close the run or trial it had
    open; a request the tracking server's authentication refused (401/403) is one line, and
    anything else (a signal, a bug) goes on up."""
    interrupts.exit_interrupted(STOPPED)
    refused = access_refused(err)
    if refused:
        fail(refused)
    raise err


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run `func`; a ZooError becomes `error: <message>` on stderr and exit status 2 (Hydra apps)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        interrupts.install()
        try:
            return func(*args, **kwargs)
        except ZooError as err:
            interrupts.exit_interrupted(STOPPED)
            fail(str(err))
        except BaseException as err:  # SIGTERM/SIGINT (Lightning may have made it a SystemExit): 143/130
            stop_on(err)

    return wrapper


def value_hint(param: click.Option) -> str:
    """What an option takes, for `key=<hint>` in error messages."""
    if param.metavar:
        return param.metavar
    if isinstance(param.type, click.Choice):
        return "|".join(map(str, param.type.choices))
    return param.type.name if isinstance(param.type, Switch) else param.type.name.upper()  # as --help shows it


def key_of(param: click.Option) -> str:
    """The `key` of `key=value`: the long option's name, underscored (`--tracking-uri` -> tracking_uri)."""
    long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    return long.lstrip("-").replace("-", "_")


def options_by_key(command: click.Command, hidden: bool = True) -> dict[str, click.Option]:
    return {key_of(p): p for p in command.params
            if isinstance(p, click.Option) and (hidden or not p.hidden) and p.name != "help"}


class Switch(click.ParamType):
    """`true` or `false` (any case), as the Makefile passes them; anything else is a usage error."""

    name = "true|false"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        key = key_of(param) if isinstance(param, click.Option) else "value"
        self.fail(f"{key}={value!r}: use {key}=true or {key}=false", param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "true|false"


def unexpected(token: str, command: click.Command) -> str:
    options = "; ".join(f"{key}=<{value_hint(p)}>" for key, p in options_by_key(command, hidden=False).items())
    return f"unexpected argument {token!r}; options: {options}"


def dashed(command: click.Command, argv: Sequence[str]) -> list[str]:
    """`key=value` for a declared option becomes `--key=value`; other tokens go to the command's
    variadic argument (Hydra or sweep overrides) if it has one, else they are a usage error."""
    options = options_by_key(command)
    takes_value = {opt: not (p.is_flag or p.count) for p in options.values() for opt in p.opts + p.secondary_opts}
    variadic = any(isinstance(p, click.Argument) and p.nargs == -1 for p in command.params)
    out: list[str] = []
    value_next = False
    for i, token in enumerate(argv):
        if value_next:  # the value of `--key value`, whatever it looks like
            out.append(token)
            value_next = False
            continue
        if token == "--":
            out.extend(argv[i:])
            break
        key, sep, value = token.partition("=")
        if sep and key in options:
            out.append(f"{options[key].opts[0]}={value}")
        elif token == "help":
            out.append("--help")
        elif not variadic and not token.startswith("-"):
            raise click.UsageError(unexpected(token, command))
        else:
            value_next = takes_value.get(token, False)
            out.append(token)
    return out


def usage_message(err: click.ClickException) -> str:
    """Click's message, except a missing option is named the way users type it."""
    if isinstance(err, click.MissingParameter) and isinstance(err.param, click.Option):
        return f"missing {key_of(err.param)}=<{value_hint(err.param)}> (or {err.param.opts[0]})"
    if isinstance(err, click.BadParameter) and isinstance(err.param, click.Option) \
            and err.message.startswith(f"{key_of(err.param)}="):
        return err.message  # it already says which key=value is wrong
    if isinstance(err, click.BadParameter) and isinstance(err.param, click.Option):
        return f"invalid {key_of(err.param)}= value: {err.message}"  # named as typed, not as --sweep
    return err.format_message()


class ZooCommand(click.Command):
    """A click command that takes `key=value` for its options and reports usage errors and ZooErrors
    as one `error:` line with exit status 2. `main(argv)` returns the callback's exit status, so
    `sys.exit(main())` serves both `python -m zoo.<tool>` and the console script."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT)
        super().__init__(*args, **kwargs)
        # every tool is quiet by default; one whose callback does not take `verbose` gets it here
        self.callback_takes_verbose = any(p.name == "verbose" for p in self.params)
        if not self.callback_takes_verbose:
            self.params.append(click.Option(["--verbose"], type=Switch(), default="false",
                                            help="Show the libraries' info lines and download bars."))
        keys = sorted(options_by_key(self, hidden=False).items(), key=lambda item: "_" not in item[0])
        if self.epilog is None and keys:  # say so with one of this tool's own options
            key, param = keys[0]
            self.epilog = f"Each option can also be given as key=value: {key}=... is {param.opts[0]} ..."

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> int:
        if args is not None and prog_name is None:  # called in-process: name the tool, not the host program
            prog_name = self.name
        complete_var = complete_var or f"_{self.name}_COMPLETE".replace("-", "_").upper()
        argv = list(sys.argv[1:] if args is None else args)
        interrupts.install()
        try:
            code = super().main(dashed(self, argv), prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as err:
            fail(usage_message(err))
        except ZooError as err:
            interrupts.exit_interrupted(STOPPED)
            fail(str(err))
        except click.Abort:
            interrupts.exit_interrupted(STOPPED)
            fail("aborted", 130)
        except BaseException as err:
            stop_on(err)
        interrupts.exit_interrupted(STOPPED)
        return int(code or 0)

    def invoke(self, ctx: click.Context) -> Any:
        quiet(bool(ctx.params.get("verbose", False)))
        if not self.callback_takes_verbose:
            ctx.params.pop("verbose", None)
        return super().invoke(ctx)


def as_key_values(options: Mapping[str, Any], overrides: Sequence[str] = ()) -> list[str]:
    """The set options and the overrides as one `key=value` command line (what workers re-run)."""
    return [f"{key}={value}" for key, value in options.items() if value is not None] + list(overrides)


def worker_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`role=worker` joins a study that a launcher on any machine started (same storage);
    `worker_index` is set by the launcher for the workers it spawns."""
    func = click.option("--worker-index", type=int, hidden=True)(func)
    return click.option("--role", type=click.Choice(["launcher", "worker"]), default="launcher",
                        help="worker: join the study a launcher started (same storage).")(func)


def overrides_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    """The tokens that are not the tool's options: Hydra or sweep overrides, passed on as typed."""
    return click.argument("overrides", nargs=-1, type=click.UNPROCESSED, metavar="[KEY=VALUE]...")(func)
