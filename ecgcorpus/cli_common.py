"""Shared pieces of the command line: the user-error convention (one line, exit code 1)."""

from __future__ import annotations

import functools

import click

from .errors import EcgCorpusError


class UserError(click.ClickException):
    exit_code = 1


def user_errors(fn):
    """Turn our errors into a one-line message and exit code 1 (a traceback only with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (EcgCorpusError, FileNotFoundError, PermissionError) as exc:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            raise UserError(str(exc)) from None

    return wrapper


def complete_sources(ctx, param, incomplete: str):
    """Shell completion of source names (the registry, no import of any reader)."""
    from .sources import SOURCES

    return [name for name in SOURCES if name.startswith(incomplete)]


def complete_configs(ctx, param, incomplete: str):
    """Shell completion of the config names of the manifest given earlier on the line."""
    # While an option awaits its value, click leaves the arguments before it unparsed in ctx.args.
    path = ctx.params.get("manifest") or next((a for a in ctx.args if a.endswith((".yaml", ".yml"))), None)
    if not path:
        return []
    try:
        from .manifest import load_manifest

        names = [spec.config_name for spec in load_manifest(path).builders]
    except Exception:  # a half-typed or broken manifest: no suggestions, never a traceback in the shell
        return []
    return [name for name in names if name.startswith(incomplete)]
