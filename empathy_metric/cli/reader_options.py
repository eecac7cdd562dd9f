"""Input and runtime options shared by every command that reads and scores dialogue logs."""
from __future__ import annotations

import click

from ..dialogue import DEFAULT_AGENT_ROLES, normalize_role
from ..io.readers.options import FORMATS, ReaderOptions


def input_options(command):
    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
                     help="Input layout; auto detects by keys (messages, conversations, dialog, turns) "
                          "and .csv for EMH/EPITOME."),
        click.option("--turns-key", help="Field holding the list of turns."),
        click.option("--role-key", help="Field holding a turn's role."),
        click.option("--text-key", help="Field holding a turn's text."),
        click.option("--id-key", help="Field holding the dialogue id (default: id, dialogue_id, ...; "
                                      "else FILE:LINE)."),
        click.option("--agent-role", "agent_roles", multiple=True,
                     help="A role whose turns are the agent's (repeatable). Default: "
                          + ", ".join(sorted(DEFAULT_AGENT_ROLES)) + "."),
        click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise",
                     show_default=True, help="On a malformed record: stop with an error, or skip it "
                                             "and count it in the summary."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error) -> ReaderOptions:
    roles = frozenset(normalize_role(r) for r in agent_roles) if agent_roles else DEFAULT_AGENT_ROLES
    return ReaderOptions(format=fmt, turns_key=turns_key, role_key=role_key, text_key=text_key,
                         id_key=id_key, agent_roles=roles, on_error=on_error)
