"""`pcnreg users ...`: the server operator's console for accounts.

These commands act as the operator of the server (whoever can run them can already read the
database), not through the web's policy: they are audited as ``cli:<os user>``. No command
takes or prints a password; users set their own through the one-time link printed here.

    pcnreg users create EMAIL --name NAME --role ROLE --scope TYPE:ID [--role ... --scope ...]
    pcnreg users invite EMAIL [--base-url URL]
    pcnreg users list
    pcnreg users end-sessions EMAIL

Each ``--role`` is paired with the ``--scope`` in the same position: ``all`` (system_admin),
``system:E54000014``, ``commissioner:04K``, ``pcn:<id>``, ``practice:C84067``,
``committee:<id>`` (an id or an ODS/GSS code).
"""
from __future__ import annotations

import click
from flask.cli import with_appcontext

DEFAULT_BASE_URL = "http://127.0.0.1:5000"


def invite_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/invite/{token}"


@click.group("users")
def users_group() -> None:
    """Users, their roles and one-time sign-in links (as the server operator)."""


@users_group.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The person's full name.")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role (repeatable): system_admin, commissioner, pcn_lead, practice_rep, returning_officer, "
                   "committee_member, viewer.")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="Where the role in the same position applies (repeatable): all, system:CODE, commissioner:CODE, "
                   "pcn:ID, practice:CODE, committee:ID.")
@click.option("--no-invite", is_flag=True, help="Do not print a one-time sign-in link.")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Where the web app is served.")
@with_appcontext
def create_command(email: str, name: str, roles: tuple[str, ...], scopes: tuple[str, ...], no_invite: bool,
                   base_url: str) -> None:
    """Create a user with one or more scoped roles, and print their one-time sign-in link."""
    from ..services import accounts
    from ..services.audit import current_actor

    if len(roles) != len(scopes):
        raise click.UsageError("Give one --scope for each --role, in the same order")
    operator = current_actor()[1]
    try:
        grants = [(role, *_scope(accounts, scope)) for role, scope in zip(roles, scopes)]
        user = accounts.create_user(email, name, grants, created_by=operator)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {user.email} ({user.name}): "
               + "; ".join(accounts.grant_text(r.role, r.scope_type, r.scope_id) for r in user.roles))
    if not no_invite:
        _print_link(user, accounts.invite(user, created_by=operator), base_url)


def _scope(accounts, text: str) -> tuple[str, int | None]:
    scope = accounts.parse_scope(text)
    return scope.type, scope.id


def _print_link(user, token: str, base_url: str) -> None:
    from ..services.accounts import INVITE_HOURS

    click.echo(f"One-time sign-in link for {user.email} (valid {INVITE_HOURS} hours, shown once):")
    click.echo(f"  {invite_link(base_url, token)}")


@users_group.command("invite")
@click.argument("email")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Where the web app is served.")
@with_appcontext
def invite_command(email: str, base_url: str) -> None:
    """Print a new one-time sign-in link for EMAIL (earlier links stop working)."""
    from ..services import accounts
    from ..services.audit import current_actor

    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"There is no user {accounts.normalise_email(email)}")
    try:
        token = accounts.invite(user, created_by=current_actor()[1])
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_link(user, token, base_url)


@users_group.command("end-sessions")
@click.argument("email")
@with_appcontext
def end_sessions_command(email: str) -> None:
    """End every session of EMAIL now (a lost device, a shared computer): they must sign in again."""
    from ..services import accounts
    from ..services.audit import current_actor

    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"There is no user {accounts.normalise_email(email)}")
    accounts.end_sessions(user, by=current_actor()[1])
    click.echo(f"Every session of {user.email} has ended.")


@users_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every user with their roles and status."""
    from ..services import accounts

    users = accounts.list_users()
    if not users:
        click.echo("No users. Create one with `pcnreg users create EMAIL --name NAME --role system_admin --scope all`.")
        return
    moment = accounts.now()
    for user in users:
        status = ("deactivated" if not user.active else
                  f"locked until {user.locked_until:%Y-%m-%d %H:%M} UTC" if user.locked_until and user.locked_until > moment
                  else "invited (no password yet)" if not user.password_hash else "active")
        roles = "; ".join(accounts.grant_text(r.role, r.scope_type, r.scope_id) for r in user.roles) or "no role"
        click.echo(f"{user.email}\t{user.name}\t{status}\t{roles}")
