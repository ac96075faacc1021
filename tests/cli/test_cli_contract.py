"""The command line is a scripted interface: every command's name, options and arguments, as they
were before the CLI became the pcnreg/cli/ package (recorded from that code, not read from this
one). A renamed command or option fails here; a new one must be added to the table."""
from __future__ import annotations

import click
import pytest

from pcnreg.cli import cli

FLASK_OWN = {"db", "run", "shell", "routes"}

# command path: (its options, its arguments)
CONTRACT = {
    "areas": ([], []),
    "areas adjacent": (["--by", "--reason"], ["block_a", "block_b"]),
    "areas move-block": (["--round"], ["block", "pcn"]),
    "areas revert": (["--round"], ["pcn"]),
    "areas upload": (["--round"], ["pcn", "file"]),
    "audit": ([], []),
    "audit head": (["--anchor"], []),
    "audit verify": (["--expect", "--no-anchor"], []),
    "backup": ([], ["file"]),
    "check": ([], []),
    "demo": (["--base-url", "--no-upgrade"], []),
    "election": ([], []),
    "election count": ([
        "--candidates", "--json", "--lots", "--method", "--performed-by", "--seed", "--witness",
    ], ["ballots_file"]),
    "election tick": ([], []),
    "epcn": ([], []),
    "epcn export": (["--out", "--round", "--sheet"], []),
    "epcn import": (["--author", "--reason", "--round"], ["file"]),
    "export": ([], []),
    "export configuration": (["--output", "--round", "-o"], []),
    "geodata": ([], []),
    "geodata download": (["--base-url", "--manifest", "--profile", "--timeout", "--to"], []),
    "geodata install": (["--blocks", "--from", "--manifest", "--profile", "--system"], []),
    "geodata status": (["--json"], []),
    "import": ([], []),
    "import configuration": (["--author", "--reason", "--replace", "--round"], ["file"]),
    "import list-sizes": ([], ["file"]),
    "import lsoa-registrations": (["--lsoa-lookup", "--round"], ["file"]),
    "import neighbourhoods": (["--round"], ["file"]),
    "import practices": (["--commissioner"], ["file"]),
    "onboard": ([
        "--areas", "--blocks", "--configuration", "--list-sizes", "--local-authorities", "--organisations",
        "--practices", "--round", "--system", "--year",
    ], []),
    "organisations": ([], []),
    "organisations lineage": (["--after", "--after-lookup", "--after-lookup-from", "--before", "--before-lookup",
                               "--since"], []),   # issue #13: --after-lookup-from dates the later era
    "configuration": ([], []),                       # issue #13: dated memberships
    "configuration on": (["--date", "--system"], []),
    "places": ([], []),
    "places add": (["--commissioner", "--local-authority", "--system"], ["name"]),
    "places list": (["--system"], []),
    "places remove": (["--system"], ["name"]),
    "places set": (["--commissioner", "--local-authority", "--name", "--system"], ["name"]),
    "restore": (["--force", "--yes"], ["file"]),
    "round": ([], []),
    "round apply-changes": (["--round"], []),
    "round change-instruction": (["--output", "--round"], []),   # issue #13: the ODS change instruction
    "round change-notice": (["--effective-from", "--reason", "--round", "--to"], ["practice"]),
    "round decide-change": (["--approve", "--note", "--refuse", "--round"], ["change_id"]),
    "round status": (["--as-of", "--json", "--round"], []),
    "users": ([], []),
    "users create": (["--base-url", "--name", "--no-invite", "--role", "--scope"], ["email"]),
    "users end-sessions": ([], ["email"]),
    "users invite": (["--base-url"], ["email"]),
    "users list": ([], []),
    "validate": (["--fail-on", "--json", "--round"], []),
    "worker": (["--workers"], []),
}


def commands(app) -> dict[str, tuple[list[str], list[str]]]:
    ctx = click.Context(cli, info_name="pcnreg", obj=None)
    found: dict[str, tuple[list[str], list[str]]] = {}

    def walk(group: click.Group, path: list[str], ctx: click.Context) -> None:
        for name in group.list_commands(ctx):
            if not path and name in FLASK_OWN:
                continue
            cmd = group.get_command(ctx, name)
            opts = sorted(o for p in cmd.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts)
            found[" ".join([*path, name])] = (opts, [p.name for p in cmd.params if isinstance(p, click.Argument)])
            if isinstance(cmd, click.Group):
                walk(cmd, [*path, name], click.Context(cmd, parent=ctx, info_name=name))

    walk(app.cli, [], ctx)
    return found


def test_every_command_and_option_is_kept(app):
    assert commands(app) == CONTRACT


@pytest.mark.parametrize("path", ["onboard", "organisations lineage", "round change-notice", "round decide-change",
                                  "round apply-changes", "places list", "places add", "places set", "places remove",
                                  "election count"])
def test_the_scripted_commands_answer_help(path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [*path.split(), "--help"], prog_name="pcnreg")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: pcnreg {path} ")
