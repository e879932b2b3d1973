"""Every command quoted in bench/RESULTS.md (and the READMEs that quote numbers) must name scripts,
paths, subcommands and flags that exist (issue 18: no number without a command that can be rerun).

Each quoted command is parsed by the parser that would run it: ``sicnb ...`` by the CLI's parser,
``python bench/X.py ...`` by the script's own argparse parser (the script runs up to ``parse_args``
and stops there). A fragment that leaves out required arguments passes; an unknown script, path,
subcommand, flag or choice fails.
"""
from __future__ import annotations

import argparse
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = ["bench/RESULTS.md", "README.md", "sicnb/classify/default_model/README.md", "sicnb/classify/full_model/README.md"]
PATH_PREFIXES = ("bench/", "tests/", "notebooks/", "sicnb/")
_WRAPPERS = {"nice", "/usr/bin/time", "time", "timeout", "env"}


class _Parsed(Exception):
    """The parser accepted the arguments (raised instead of running the command)."""


class _Rejected(Exception):
    """The parser rejected the arguments (argparse's error message)."""


def quoted_commands(text: str) -> list[str]:
    """Inline-code spans and fenced-block lines that run ``python``, ``sicnb`` or name a repository path."""
    out = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S):
        out += [line.strip() for line in block.replace("\\\n", " ").splitlines()]
    inline = re.sub(r"```.*?```", "", text, flags=re.S).replace("``", "`")  # rst-style ``x`` would offset the pairing
    out += [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", inline)]
    keep = re.compile(r"(^|\s)(python3?|sicnb)(\s|$)|(^|\s)(bench|tests|notebooks)/\S")
    return [c for c in out if keep.search(c)]


def _strip_prefix(tokens: list[str]) -> list[str]:
    """Drop ``VAR=value`` assignments and wrappers (``nice -n 10``, ``/usr/bin/time -v``, ``timeout 600``)."""
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", t):
            i += 1
        elif t in _WRAPPERS:
            i += 1
            while i < len(tokens) and (tokens[i].startswith("-") or tokens[i].isdigit()):
                i += 1
        else:
            break
    return tokens[i:]


def _parse_with(run, argv: list[str]) -> str | None:
    """Run ``run(argv)`` with argparse patched so that parsing ends the run; return the error or None."""
    orig_parse_args, orig_error = argparse.ArgumentParser.parse_args, argparse.ArgumentParser.error

    def parse_args(self, args=None, namespace=None):
        ns, extra = self.parse_known_args(args, namespace)
        if extra:
            raise _Rejected(f"unrecognized arguments: {' '.join(extra)}")
        raise _Parsed()

    def error(self, message):
        raise _Rejected(message)

    argparse.ArgumentParser.parse_args, argparse.ArgumentParser.error = parse_args, error
    try:
        run(argv)
    except _Parsed:
        return None
    except SystemExit as exc:  # --help / --version print and exit 0
        return None if exc.code in (0, None) else f"exited {exc.code}"
    except _Rejected as exc:
        msg = str(exc)
        return None if msg.startswith("the following arguments are required") else msg
    finally:
        argparse.ArgumentParser.parse_args, argparse.ArgumentParser.error = orig_parse_args, orig_error
    return "the command ran to the end without parsing its arguments"


def _run_script(script: Path):
    def run(argv):
        old_argv, old_path = sys.argv, list(sys.path)
        sys.argv = [str(script), *argv]
        sys.path.insert(0, str(script.parent))
        try:
            runpy.run_path(str(script), run_name="__main__")
        finally:
            sys.argv, sys.path[:] = old_argv, old_path

    return run


def _run_sicnb(argv):
    from sicnb.cli import build_parser

    build_parser(strict=True).parse_args(argv)


def check_command(command: str) -> list[str]:
    """Problems with one quoted command (empty list: it names only things that exist)."""
    command = re.sub(r"<[^<>]*>", "PLACEHOLDER", command)  # "<fresh dir>", "<data>": one value each
    try:
        tokens = shlex.split(command, comments=True)
    except ValueError as exc:
        return [f"cannot split {command!r}: {exc}"]
    problems = []
    for t in tokens:
        path = t.split("::")[0]
        if path.startswith(PATH_PREFIXES) and "PLACEHOLDER" not in path and not (REPO / path).exists():
            problems.append(f"{path} does not exist")
    tokens = _strip_prefix(tokens)
    if not tokens or "..." in tokens or "…" in tokens:
        return problems  # a path mention or an elided command: only the paths can be checked
    if tokens[0] in ("python", "python3") and len(tokens) > 1 and tokens[1].endswith(".py"):
        script = REPO / tokens[1]
        if script.exists():
            err = _parse_with(_run_script(script), tokens[2:])
            if err:
                problems.append(f"{tokens[1]}: {err}")
    elif tokens[0] == "sicnb":
        err = _parse_with(_run_sicnb, tokens[1:])
        if err:
            problems.append(f"sicnb: {err}")
    return problems


def _all_commands() -> list[tuple[str, str]]:
    out = []
    for doc in DOCUMENTS:
        path = REPO / doc
        if path.exists():
            out += [(doc, c) for c in dict.fromkeys(quoted_commands(path.read_text()))]
    return out


def test_results_quote_commands():
    commands = [c for d, c in _all_commands() if d == "bench/RESULTS.md"]
    assert len(commands) >= 20 and any(c.startswith("python bench/") for c in commands)


@pytest.mark.parametrize("document,command", _all_commands())
def test_quoted_command_names_only_existing_scripts_and_flags(document, command):
    problems = check_command(command)
    assert not problems, f"{document}: `{command}`: " + "; ".join(problems)


@pytest.mark.parametrize("command,fragment", [
    ("python bench/no_such_script.py --n 4", "does not exist"),
    ("OMP_NUM_THREADS=1 nice -n 10 python bench/bench_topology.py --no-such-flag 3", "unrecognized arguments"),
    ("python bench/bench_classify.py no_such_action", "invalid choice"),
    ("sicnb topology --input embedded --out t.csv --no-such-flag", "unrecognized arguments"),
    ("sicnb no_such_command --input embedded", "invalid choice"),
    ("python -m pytest tests/test_no_such_file.py", "does not exist"),
])
def test_checker_catches_what_does_not_exist(command, fragment):
    problems = check_command(command)
    assert problems and fragment in " ".join(problems)


def test_checker_accepts_fragments_and_placeholders():
    assert check_command("sicnb cluster --standardize") == []
    assert check_command("SICNB_DATA_DIR=<data> OMP_NUM_THREADS=1 python bench/replay_pes.py --store STORE") == []
