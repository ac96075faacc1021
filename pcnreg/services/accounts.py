"""Accounts: users, their scoped roles, one-time invites, passwords and signing in.

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher`` defaults); a hash made with
older parameters is replaced at the next successful sign-in. Nobody gets a default password: a
user is created without one and sets it through a one-time invite link, whose token is shown
once and stored only as its SHA-256.

Password rules (``password_problems``), kept deliberately simple:

- at least 12 characters (and at most 200);
- not the user's e-mail address, nor the part of it before the @;
- not all of one kind: at least two of lower-case letters, upper-case letters, digits and
  other characters (a long passphrase of lower-case words and spaces passes).

Guessing is slowed down twice over (``sign_in``):

- per account: the ``LOCK_AFTER``-th (5th) consecutive failure locks the account for
  ``LOCK_FOR`` (15 minutes), during which even the right password is refused; the message says
  the account is locked and until when, without checking the password;
- per address: after ``ADDRESS_LIMIT`` (20) failures from one address within ``ADDRESS_WINDOW``
  (15 minutes), whatever the e-mail addresses, further attempts from that address are refused
  until the oldest of those failures leaves the window.

Unknown e-mail addresses and wrong passwords get the same message (and take as long: an unknown
address is checked against a dummy hash). Every attempt is a ``SignInAttempt`` row.

``now()`` is the clock for invites and lock-outs (tests replace it). Changes are audited
(``services.audit``) without passwords or tokens, and committed here.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select

from ..domain import dates, policy
from ..extensions import db
from ..models import (
    Commissioner,
    Committee,
    Invite,
    Pcn,
    Practice,
    RegistrationRound,
    RoleAssignment,
    SignInAttempt,
    System,
    User,
)
from . import audit
from .errors import CONCURRENT, ServiceError
from .transactions import one_transaction

LOCK_AFTER = 5
LOCK_FOR = dt.timedelta(minutes=15)
ADDRESS_LIMIT = 20
ADDRESS_WINDOW = dt.timedelta(minutes=15)
INVITE_HOURS = 72
MIN_PASSWORD = 12
MAX_PASSWORD = 200

GENERIC_FAILURE = "Enter a correct e-mail address and password"

hasher = PasswordHasher()
_DUMMY_HASH: str | None = None


def now() -> dt.datetime:
    """The current time, naive UTC (as stored). Tests monkeypatch this."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class AccountError(ServiceError):
    """A refusal to show to the user (the message is safe to display)."""


class SignInRefused(AccountError):
    """Sign-in refused. ``locked_until`` is set when the account or the address is locked out."""

    def __init__(self, message: str, locked_until: dt.datetime | None = None):
        super().__init__(message)
        self.locked_until = locked_until


class InviteInvalid(AccountError):
    """The invite link is unknown (status 404), or used, expired or replaced (410)."""

    def __init__(self, message: str, status: int = 410):
        super().__init__(message)
        self.status = status


class PasswordRejected(AccountError):
    def __init__(self, problems: list[str]):
        super().__init__(problems[0])
        self.problems = problems


def _conflict() -> AccountError:
    return AccountError(CONCURRENT)


# --- passwords ----------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's; rehashes (not committed) when the parameters changed."""
    if not user.password_hash:
        _dummy_verify(password)
        return False
    try:
        hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def _dummy_verify(password: str) -> None:
    """Spend as long as a real check, so that unknown addresses are not told apart by timing."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
    try:
        hasher.verify(_DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


def password_problems(password: str, email: str = "") -> list[str]:
    """What is wrong with a new password (empty: acceptable). See the module docstring."""
    password = password or ""
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"Your password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        problems.append(f"Your password must be {MAX_PASSWORD} characters or fewer")
    email = (email or "").strip().lower()
    if email and password.strip().lower() in {email, email.split("@")[0]}:
        problems.append("Your password must not be your e-mail address")
    kinds = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]"))
    if password and kinds < 2:
        problems.append("Your password must mix at least two kinds of character: lower-case letters, "
                        "capital letters, numbers, spaces or symbols")
    return problems


def _check_password(password: str, email: str) -> None:
    problems = password_problems(password, email)
    if problems:
        raise PasswordRejected(problems)


# --- users and roles ------------------------------------------------------------------------------

def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))


def _user_state(user: User) -> dict:
    return {"email": user.email, "name": user.name, "active": user.active,
            "roles": [grant_text(r.role, r.scope_type, r.scope_id) for r in user.roles]}


def _check_grant(role: str, scope_type: str, scope_id: int | None) -> None:
    if role not in policy.ROLES:
        raise AccountError(f"There is no role {role!r}: choose one of {', '.join(policy.ROLES)}")
    scopes = policy.ROLE_SCOPES[role]
    if scope_type not in scopes:
        raise AccountError(f"A {policy.ROLE_TITLES[role].lower()} applies to "
                           f"{' or '.join('everything' if s == 'all' else 'a ' + s for s in scopes)}, "
                           f"not {'everything' if scope_type == 'all' else 'a ' + scope_type}")
    if scope_type == "all":
        if scope_id is not None:
            raise AccountError("A role that applies to everything has no scope id")
        return
    if scope_id is None:
        raise AccountError(f"Say which {scope_type} the role applies to")
    model = {"system": System, "commissioner": Commissioner, "pcn": Pcn, "practice": Practice,
             "committee": Committee}.get(scope_type)
    if model is not None and db.session.get(model, scope_id) is None:
        raise AccountError(f"There is no {scope_type} with id {scope_id}")


@one_transaction(_conflict)
def create_user(email: str, name: str, grants: list[tuple[str, str, int | None]], created_by: str) -> User:
    """A new user (without a password) holding ``grants`` (role, scope type, scope id). Committed."""
    email, name = normalise_email(email), " ".join((name or "").split())
    if not EMAIL.match(email) or len(email) > 254:
        raise AccountError("Enter an e-mail address in the correct format, like name@example.nhs.uk")
    if not name or len(name) > 200:
        raise AccountError("Enter the person's name (200 characters or fewer)")
    if find_user(email) is not None:
        raise AccountError(f"There is already a user with the e-mail address {email}")
    for grant in grants:
        _check_grant(*grant)
    user = User(email=email, name=name, active=True, failed_sign_ins=0)
    db.session.add(user)
    db.session.flush()
    audit.record(action="user.create", object_type="user", object_id=str(user.id),
                 after={"email": email, "name": name, "created_by": created_by})
    if grants:
        grant_roles.__wrapped__(user, grants)
    return user


@one_transaction(_conflict)
def grant_roles(user: User, grants: list[tuple[str, str, int | None]]) -> list[RoleAssignment]:
    """Add grants the user does not hold yet (one person may hold several roles)."""
    before = _user_state(user)
    added = []
    held = {(r.role, r.scope_type, r.scope_id) for r in user.roles}
    for role, scope_type, scope_id in grants:
        _check_grant(role, scope_type, scope_id)
        if (role, scope_type, scope_id) in held:
            continue
        assignment = RoleAssignment(role=role, scope_type=scope_type, scope_id=scope_id)
        user.roles.append(assignment)
        held.add((role, scope_type, scope_id))
        added.append(assignment)
    if added:
        db.session.flush()
        audit.record(action="user.roles_grant", object_type="user", object_id=str(user.id),
                     before=before, after=_user_state(user))
    return added


@one_transaction(_conflict)
def revoke_role(user: User, assignment_id: int) -> None:
    """Take one grant away. The last active system administrator keeps theirs."""
    assignment = next((r for r in user.roles if r.id == assignment_id), None)
    if assignment is None:
        raise AccountError("That role is not held by this user")
    if assignment.role == "system_admin" and user.active and _other_admins(user) == 0:
        raise AccountError("This is the only active system administrator: grant the role to someone else first")
    before = _user_state(user)
    user.roles.remove(assignment)
    db.session.flush()
    audit.record(action="user.roles_revoke", object_type="user", object_id=str(user.id),
                 before=before, after=_user_state(user))


def _other_admins(user: User) -> int:
    return db.session.scalar(
        select(func.count(func.distinct(User.id))).join(RoleAssignment)
        .where(RoleAssignment.role == "system_admin", User.active.is_(True), User.id != user.id)) or 0


@one_transaction(_conflict)
def set_active(user: User, active: bool) -> None:
    """Deactivate (signed out at their next request, cannot sign in) or reactivate a user."""
    if user.active == active:
        return
    if not active and any(r.role == "system_admin" for r in user.roles) and _other_admins(user) == 0:
        raise AccountError("This is the only active system administrator: it cannot be deactivated")
    before = _user_state(user)
    user.active = active
    if not active:
        for invite in _open_invites(user):
            invite.expires_at = now()
    audit.record(action="user.activate" if active else "user.deactivate", object_type="user",
                 object_id=str(user.id), before=before, after=_user_state(user))


# --- invites ----------------------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _open_invites(user: User) -> list[Invite]:
    return list(db.session.scalars(select(Invite).where(
        Invite.user_id == user.id, Invite.used_at.is_(None), Invite.expires_at > now())))


@one_transaction(_conflict)
def invite(user: User, created_by: str, valid_hours: int = INVITE_HOURS) -> str:
    """A one-time sign-in link's token (shown once; only its SHA-256 is kept). Earlier unused
    invites of the user stop working. Committed."""
    if not user.active:
        raise AccountError(f"{user.email} is deactivated: reactivate the user before inviting them")
    moment = now()
    for earlier in _open_invites(user):
        earlier.expires_at = moment
    token = secrets.token_urlsafe(32)
    expires = moment + dt.timedelta(hours=valid_hours)
    db.session.add(Invite(user_id=user.id, token_hash=_token_hash(token), created_at=moment,
                          expires_at=expires, created_by=created_by[:200]))
    audit.record(action="user.invite", object_type="user", object_id=str(user.id),
                 after={"expires_at": expires.isoformat(timespec="seconds"), "created_by": created_by})
    return token


def invite_for(token: str) -> Invite:
    """The usable invite of ``token``, or InviteInvalid saying why not."""
    found = db.session.scalar(select(Invite).where(Invite.token_hash == _token_hash(token or "")))
    if found is None:
        raise InviteInvalid("This sign-in link is not valid. Check you copied all of it, or ask your "
                            "administrator for a new one.", 404)
    if found.used_at is not None:
        raise InviteInvalid("This sign-in link has already been used. Sign in with your password, or ask your "
                            "administrator for a new link.")
    if found.expires_at <= now() or not found.user.active:
        raise InviteInvalid("This sign-in link has expired or has been replaced by a newer one. Ask your "
                            "administrator for a new link.")
    return found


@one_transaction(_conflict)
def accept_invite(token: str, password: str) -> User:
    """Set the password through a one-time invite; the invite is used up. Committed."""
    found = invite_for(token)
    user = found.user
    _check_password(password, user.email)
    moment = now()
    found.used_at = moment
    user.password_hash = hash_password(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = moment
    audit.record(action="user.invite_accept", object_type="user", object_id=str(user.id),
                 after={"password_set": True})
    return user


# --- signing in ---------------------------------------------------------------------------------------

def _when(moment: dt.datetime) -> str:
    """A stored (naive UTC) instant in UK time: "09:15 on 1 March 2024 (UK time)"."""
    local = dates.local_time(moment)
    return f"{local:%H:%M} on {dates.uk_date(local)} (UK time)"


def address_locked_until(address: str) -> dt.datetime | None:
    """When the address may try again, if it has used up its failures in the window."""
    since = now() - ADDRESS_WINDOW
    recent = list(db.session.scalars(
        select(SignInAttempt.at).where(SignInAttempt.address == address, SignInAttempt.success.is_(False),
                                       SignInAttempt.at > since)
        .order_by(SignInAttempt.at.desc()).limit(ADDRESS_LIMIT)))
    if len(recent) < ADDRESS_LIMIT:
        return None
    return recent[-1] + ADDRESS_WINDOW


def _attempt(email: str, address: str, success: bool) -> None:
    db.session.add(SignInAttempt(email=email[:254], address=(address or "unknown")[:45], at=now(), success=success))


def sign_in(email: str, password: str, address: str) -> User:
    """The user whose e-mail and password these are, or SignInRefused (see the module docstring).
    Attempts, counters and lock-outs are committed either way."""
    user, refused = _sign_in(email, password, address)
    if refused is not None:
        raise refused
    return user


@one_transaction(_conflict)
def _sign_in(email: str, password: str, address: str) -> tuple[User | None, SignInRefused | None]:
    """The user, or the refusal to raise once the attempt (and a lock-out) is committed."""
    email = normalise_email(email)
    address = address or "unknown"
    blocked = address_locked_until(address)
    if blocked is not None:
        # Not recorded: a flood from a blocked address neither grows the table nor extends the block.
        return None, SignInRefused("There have been too many failed sign-ins from your network. "
                                   f"Try again after {_when(blocked)}.", blocked)
    user = find_user(email)
    moment = now()
    if user is not None and user.locked_until is not None and user.locked_until > moment:
        _attempt(email, address, False)
        return None, SignInRefused("This account is locked after too many failed sign-ins. "
                                   f"Try again after {_when(user.locked_until)}.", user.locked_until)
    if user is None:
        _dummy_verify(password or "")
        ok = False
    else:
        ok = verify_password(user, password or "") and user.active
    if not ok:
        _attempt(email, address, False)
        if user is not None:
            if user.locked_until is not None and user.locked_until <= moment:
                user.failed_sign_ins = 0          # the lock is over: a fresh count
                user.locked_until = None
            user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
            if user.failed_sign_ins >= LOCK_AFTER:
                user.locked_until = moment + LOCK_FOR
                user.failed_sign_ins = 0
                audit.record(action="user.lock", object_type="user", object_id=str(user.id),
                             after={"locked_until": user.locked_until.isoformat(timespec="seconds"),
                                    "failures": LOCK_AFTER})
                return None, SignInRefused("This account is locked after too many failed sign-ins. "
                                           f"Try again after {_when(user.locked_until)}.", user.locked_until)
        return None, SignInRefused(GENERIC_FAILURE)
    _attempt(email, address, True)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = moment
    return user, None


@one_transaction(_conflict)
def change_password(user: User, current: str, new: str) -> None:
    """Change the password, given the current one. Committed."""
    if not verify_password(user, current or ""):
        raise AccountError("Your current password is not correct")
    if current == new:
        raise PasswordRejected(["Your new password must be different from your current one"])
    _check_password(new, user.email)
    user.password_hash = hash_password(new)
    audit.record(action="user.password_change", object_type="user", object_id=str(user.id),
                 after={"password_changed": True})


def session_stamp(user: User) -> str:
    """Part of the session's user id that changes with the password and with the user's
    ``session_key``: changing the password (or setting it through an invite) ends the user's other
    sessions; signing out or an administrator's "end sessions" rotates the key and ends them all."""
    material = user.password_hash or "none"
    if user.session_key:
        material += ":" + user.session_key
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


def _rotate_session_key(user: User) -> None:
    user.session_key = secrets.token_hex(16)


@one_transaction(_conflict)
def sign_out(user: User) -> None:
    """End the user's sessions on the server: a cookie kept from before no longer signs anyone in.
    Committed. (Not audited, as signing in is not: ``SignInAttempt`` records sign-ins.)"""
    _rotate_session_key(user)


@one_transaction(_conflict)
def end_sessions(user: User, by: str) -> None:
    """An administrator (or the operator) ends every session of ``user``. Audited, committed."""
    _rotate_session_key(user)
    audit.record(action="user.end_sessions", object_type="user", object_id=str(user.id),
                 after={"ended_by": by})


# --- scopes and principals --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    type: str
    id: int | None


def parse_scope(text: str) -> Scope:
    """'all', or TYPE:ID where ID is the id or the code: system:E54000014, commissioner:04K,
    practice:C84067, pcn:<id>, committee:<id>."""
    text = (text or "").strip()
    if text.lower() in ("all", "everything", ""):
        return Scope("all", None)
    kind, _, ident = text.partition(":")
    kind, ident = kind.strip().lower(), ident.strip()
    if kind not in ("system", "commissioner", "pcn", "practice", "committee") or not ident:
        raise AccountError(f"{text!r} is not a scope: write all, system:CODE, commissioner:CODE, pcn:ID, "
                           "practice:CODE or committee:ID")
    model = {"system": System, "commissioner": Commissioner, "practice": Practice, "pcn": Pcn,
             "committee": Committee}.get(kind)
    numeric = ident.isascii() and ident.isdigit() and len(ident) <= 10    # not "²", not past the id columns
    if numeric and (model is None or db.session.get(model, int(ident)) is not None):
        return Scope(kind, int(ident))
    if model is not None and hasattr(model, "code"):
        found = db.session.scalar(select(model.id).where(model.code == ident.upper()))
        if found is not None:
            return Scope(kind, found)
    raise AccountError(f"There is no {kind} {ident}")


def grant_text(role: str, scope_type: str, scope_id: int | None) -> str:
    """'Commissioner of NHS Nottingham City CCG (04K)' and the like."""
    title = policy.ROLE_TITLES.get(role, role)
    return f"{title} of {scope_text(scope_type, scope_id)}"


def scope_text(scope_type: str, scope_id: int | None) -> str:
    if scope_type == "all":
        return "everything"
    if scope_type == "system":
        obj = db.session.get(System, scope_id)
        return f"{obj.name} ({obj.code})" if obj else f"system {scope_id}"
    if scope_type == "commissioner":
        obj = db.session.get(Commissioner, scope_id)
        return f"{obj.name} ({obj.code})" if obj else f"commissioner {scope_id}"
    if scope_type == "pcn":
        obj = db.session.get(Pcn, scope_id)
        return f"PCN {obj.name} ({obj.round.name})" if obj else f"PCN {scope_id}"
    if scope_type == "practice":
        obj = db.session.get(Practice, scope_id)
        return f"{obj.name} ({obj.code})" if obj else f"practice {scope_id}"
    obj = db.session.get(Committee, scope_id)
    return f"{obj.name}" if obj else f"committee {scope_id}"


def grant_system(scope_type: str, scope_id: int | None) -> int | None:
    """The system a scoped object belongs to (None for 'all')."""
    if scope_id is None:
        return None
    if scope_type == "system":
        return scope_id
    if scope_type == "commissioner":
        return db.session.scalar(select(Commissioner.system_id).where(Commissioner.id == scope_id))
    if scope_type == "pcn":
        return db.session.scalar(select(RegistrationRound.system_id).join(Pcn, Pcn.round_id == RegistrationRound.id)
                                 .where(Pcn.id == scope_id))
    if scope_type == "practice":
        return db.session.scalar(select(Commissioner.system_id).join(Practice, Practice.commissioner_id == Commissioner.id)
                                 .where(Practice.id == scope_id))
    if scope_type == "committee":
        return db.session.scalar(select(Committee.system_id).where(Committee.id == scope_id))
    return None


def principal(user: User | None) -> policy.Principal:
    """The policy's view of a user: each grant with its system resolved. Inactive: anonymous."""
    if user is None or not user.active:
        return policy.ANONYMOUS
    return policy.Principal(user.id, frozenset(
        policy.Grant(r.role, r.scope_type, r.scope_id, grant_system(r.scope_type, r.scope_id)) for r in user.roles))
