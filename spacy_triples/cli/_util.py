"""The typer app of ``spacy-triples``, the option types its commands share, and :func:`run`, the one
place that turns a bad command line into a usage message (exit 2) and a ValueError or OSError from a
command into ``error: ...`` (exit 1).

The command line reads its arguments as it did when it was written with argparse, so scripts that
call it keep working: long options may be abbreviated to a unique prefix (``--out`` for
``--output``), an option's value may be ``-1`` but not another option, ``-h`` is ``--help``, and a
usage error says ``argument --batch-size: must be at least 1, got 0`` on stderr and exits with 2.
:class:`Command` and :class:`Group` give typer's click these rules."""
import functools
import re
import sys
from typing import Callable, List, Optional, Sequence, Tuple

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command

PROG = "spacy-triples"
HELP = "``spacy-triples`` command line: convert datasets, extract triples with a trained pipeline."
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
# click's UsageError, from click itself or from the copy of click that typer >= 0.2x carries
UsageError = sys.modules[typer.BadParameter.__module__].UsageError

PRECISION_CHOICES = ["fp32", "bf16", "int8", "auto"]  # training.precision.PRECISIONS, without importing torch
PRECISION_HELP = ("how the transformer computes on the CPU: fp32, bf16 (AVX512-BF16 or AMX; run by OpenVINO on AMX where "
                  "installed), int8 (an int8 copy "
                  "through ONNX Runtime where installed, else torch's dynamic quantization) or auto (the fastest "
                  "the CPU runs natively); default: the "
                  "pipeline's own setting, fp32 unless its config says otherwise (docs/precision.md)")

# argparse: a token that starts with "-" is an option unless it is "-" (stdin), a negative number or holds a space
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


class CommandLineError(Exception):
    """A command line that does not parse: the message argparse gave, for ``ctx``'s usage line."""

    def __init__(self, message: str, ctx: typer.Context):
        super().__init__(message)
        self.message = message
        self.ctx = ctx


# ------------------------------------------------------------------------ option types (typer parsers)
def _from_text(parse: Callable[[str], object]) -> Callable:
    """A typer parser that leaves an option's default (not a string) as it is."""

    @functools.wraps(parse)
    def parse_text(value):
        return parse(value) if isinstance(value, str) else value

    return parse_text


@_from_text
def as_int(text: str) -> int:
    """argparse ``type=int``."""
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"invalid int value: {text!r}") from None


@_from_text
def as_float(text: str) -> float:
    """argparse ``type=float``."""
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"invalid float value: {text!r}") from None


@_from_text
def positive_int(text: str) -> int:
    """A whole number >= 1 (a batch size or limit of 0 would process nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise typer.BadParameter(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise typer.BadParameter(f"must be at least 1, got {value}")
    return value


@_from_text
def process_count(text: str) -> int:
    """Worker processes: a whole number >= 1, or -1 (one per CPU)."""
    return -1 if text.strip() == "-1" else positive_int(text)


@_from_text
def gpu_number(text: str) -> int:
    """-1 (the CPU) or a GPU number."""
    try:
        value = int(text)
    except ValueError:
        raise typer.BadParameter(f"expected a whole number, got {text!r}") from None
    if value < -1:
        raise typer.BadParameter(f"must be -1 (CPU) or a GPU number, got {value}")
    return value


@_from_text
def gpu_fraction(text: str) -> float:
    """GPUs per Ray actor: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise typer.BadParameter(f"must be 0 (CPU) or more, got {text}")
    return value


def choice(choices: Sequence[str]) -> Callable[[str], str]:
    """argparse ``choices``: the value must be one of ``choices`` (use with :func:`choices_metavar`)."""

    @_from_text
    def parse(text: str) -> str:
        if text not in choices:
            raise typer.BadParameter(f"invalid choice: {text!r} (choose from {', '.join(map(repr, choices))})")
        return text

    return parse


def choices_metavar(choices: Sequence[str]) -> str:
    return "{" + ",".join(choices) + "}"


def precision_option() -> typer.Option:
    """``--precision`` of extract, evaluate and serve."""
    return typer.Option(None, "--precision", parser=choice(PRECISION_CHOICES), help=PRECISION_HELP,
                        metavar=choices_metavar(PRECISION_CHOICES))


# ------------------------------------------------------------------------- argparse's parsing rules
def _is_option(token: str) -> bool:
    return token.startswith("-") and token != "-" and not _NEGATIVE_NUMBER.match(token) and " " not in token


def _option_table(params) -> dict:
    """Option name -> (the name argparse shows, takes a value)."""
    table = {}
    for param in params:
        if param.param_type_name == "option":
            for name in [*param.opts, *param.secondary_opts]:
                table[name] = ("/".join(param.opts), not param.is_flag)
    return table


def _resolve(name: str, table: dict, ctx) -> Optional[str]:
    """The option NAME stands for: itself, or the one option it is a prefix of (argparse's allow_abbrev)."""
    if name in table:
        return name
    matches = [option for option in table if name.startswith("--") and option.startswith(name)]
    if len(matches) > 1:
        raise CommandLineError(f"ambiguous option: {name} could match {', '.join(matches)}", ctx)
    return matches[0] if matches else None


def split_argv(args: Sequence[str], params, ctx) -> Tuple[List[str], List[str], List[str]]:
    """(options with their values, positional arguments, unrecognized options) of ARGS, read as
    argparse reads them; CommandLineError for an ambiguous option or one that lacks its value."""
    table = _option_table(params)
    options, positionals, unknown = [], [], []
    tokens = list(args)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "--":
            positionals.extend(tokens[i:])
            break
        if not _is_option(token):
            positionals.append(token)
            continue
        name, has_value, value = token.partition("=") if token.startswith("--") else (token, "", "")
        name = _resolve(name, table, ctx)
        if name is None:
            unknown.append(token)
            continue
        shown, takes_value = table[name]
        if not takes_value:
            if has_value:
                raise CommandLineError(f"argument {shown}: ignored explicit argument {value!r}", ctx)
            options.append(name)
        elif has_value:
            options += [name, value]
        elif i < len(tokens) and not _is_option(tokens[i]):
            options += [name, tokens[i]]
            i += 1
        else:
            raise CommandLineError(f"argument {shown}: expected one argument", ctx)
    return options, positionals, unknown


class Command(TyperCommand):
    """A subcommand that parses its arguments by argparse's rules (see the module's docstring); click
    gets the options first and the positional arguments after ``--``, so that ``-`` or ``-5`` is one."""

    def parse_args(self, ctx: typer.Context, args: List[str]) -> List[str]:
        options, positionals, unknown = split_argv(args, self.get_params(ctx), ctx)
        arguments = [param for param in self.params if param.param_type_name == "argument"]
        given, extra = positionals[:len(arguments)], positionals[len(arguments):]
        try:
            super().parse_args(ctx, options + ["--"] + given)
        except typer.BadParameter as err:
            if err.param in arguments[len(given):]:  # click names the first missing one, argparse all
                missing = [param.name for param in arguments[len(given):] if param.required]
                raise CommandLineError(f"the following arguments are required: {', '.join(missing)}", ctx) from None
            raise
        if unknown or extra:
            raise CommandLineError(f"unrecognized arguments: {' '.join(unknown + extra)}", ctx.find_root())
        return []


class Group(TyperGroup):
    """The ``spacy-triples`` group, with argparse's messages for a missing or unknown command."""

    def parse_args(self, ctx: typer.Context, args: List[str]) -> List[str]:
        first = next((i for i, token in enumerate(args) if not _is_option(token)), len(args))  # the command
        options, _, unknown = split_argv(args[:first], self.get_params(ctx), ctx)
        rest = super().parse_args(ctx, options + list(args[first:]))  # -h exits here
        if first == len(args):
            raise CommandLineError("the following arguments are required: command", ctx)
        if unknown:
            raise CommandLineError(f"unrecognized arguments: {' '.join(unknown)}", ctx)
        return rest

    def resolve_command(self, ctx: typer.Context, args: List[str]):
        if self.get_command(ctx, args[0]) is None:
            names = ", ".join(map(repr, self.list_commands(ctx)))
            raise CommandLineError(f"argument command: invalid choice: {args[0]!r} (choose from {names})", ctx)
        return super().resolve_command(ctx, args)


app = typer.Typer(name=PROG, help=HELP, cls=Group, rich_markup_mode=None, add_completion=False,
                  context_settings=CONTEXT_SETTINGS)


# ------------------------------------------------------------------------------------------ running
def _usage_message(err: Exception) -> Tuple[Optional[typer.Context], str]:
    if isinstance(err, CommandLineError):
        return err.ctx, err.message
    param = getattr(err, "param", None)
    if isinstance(err, typer.BadParameter) and param is not None:
        shown = "/".join(param.opts) if param.param_type_name == "option" else param.name
        return err.ctx, f"argument {shown}: {err.message}"
    return getattr(err, "ctx", None), getattr(err, "message", str(err))


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ARGV (default: sys.argv[1:]); 0 when the command succeeded, 1 with
    ``error: ...`` on stderr when it raised a ValueError or OSError. A command line that does not
    parse exits with 2 (SystemExit, as argparse), ``-h`` with 0."""
    group = get_command(app)
    try:
        with group.make_context(PROG, list(sys.argv[1:] if argv is None else argv)) as ctx:
            group.invoke(ctx)
    except typer.Exit as err:  # -h / --help
        raise SystemExit(err.exit_code) from None
    except (CommandLineError, UsageError) as err:
        ctx, message = _usage_message(err)
        usage = ctx.get_usage() + "\n" if ctx is not None else ""
        print(f"{usage}{ctx.command_path if ctx is not None else PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a file that cannot be read or written: no traceback, the path and the reason
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    return 0
