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
