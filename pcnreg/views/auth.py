"""Signing in and out, invites, passwords, and the system administrator's user pages.

Thin views over ``services.accounts``; who may open each page is decided by the guard
(``views.routes.ROUTE_RULES``), not here. A one-time link is shown once, on the page that made it
(never stored, never redirected to, never cached).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..domain import policy
from ..services import accounts
from .forms import Choice, PageForm, strip
from .guard import as_id, sign_in_session

bp = Blueprint("auth", __name__)

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in; anything else (another host, a scheme, ``//``,
    backslashes, control characters) is the start page."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path in ("/sign-in", "/sign-out"):
        return "/"
    return value


# --- forms ------------------------------------------------------------------------------------------

def _password(label: str, message: str) -> PasswordField:
    return PasswordField(label, validators=[DataRequired(message), Length(max=accounts.MAX_PASSWORD + 50)])


class SignInForm(PageForm):
    email = StringField("E-mail address", filters=[strip], validators=[
        DataRequired("Enter your e-mail address"), Length(max=254)])
    password = _password("Password", "Enter your password")


class SetPasswordForm(PageForm):
    password = _password("Create a password", "Enter a password")
    confirm = _password("Type the password again", "Type the password again")

    def check(self, email: str) -> bool:
        """Field errors for rule breaches and a mismatch; True when the password may be set."""
        if not self.validate_on_submit():
            return False
        problems = accounts.password_problems(self.password.data, email)
        if problems:
            self.password.errors = [*self.password.errors, *problems]
        elif self.password.data != self.confirm.data:
            self.confirm.errors = [*self.confirm.errors, "The passwords do not match"]
        return not problems and self.password.data == self.confirm.data


class ChangePasswordForm(SetPasswordForm):
    current = _password("Current password", "Enter your current password")
    password = _password("New password", "Enter a new password")
    confirm = _password("Type the new password again", "Type the new password again")


def _role_choices():
    return [("", "Choose a role")] + [(r, policy.ROLE_TITLES[r]) for r in policy.ROLES]


SCOPE_HINT = ("Where the role applies: all (system administrators), system:E54000014, commissioner:04K, "
              "pcn:<PCN id>, practice:C84067 or committee:<id>")


class GrantForm(PageForm):
    role = Choice("Role", invalid="Choose a role")
    scope = StringField("Scope", filters=[strip], validators=[Length(max=60)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = _role_choices()

    def validate_role(self, field):
        if not field.data:
            from wtforms.validators import ValidationError

            raise ValidationError("Choose a role")

    def grant(self) -> tuple[str, str, int | None] | None:
        """(role, scope type, scope id), or None with the reason on the scope field."""
        try:
            scope = accounts.parse_scope(self.scope.data or "")
        except accounts.AccountError as exc:
            self.scope.errors = [*self.scope.errors, str(exc)]
            return None
        return self.role.data, scope.type, scope.id

    def field_for(self, message: str) -> str | None:
        return "role" if "applies to" in message else "scope"


class NewUserForm(GrantForm):
    email = StringField("E-mail address", filters=[strip], validators=[
        DataRequired("Enter the e-mail address"), Length(max=254)])
    name = StringField("Full name", filters=[strip], validators=[
        DataRequired("Enter the person's name"), Length(max=200)])

    def field_for(self, message: str) -> str | None:
        if "e-mail" in message:
            return "email"
        if "name" in message:
            return "name"
        return super().field_for(message)


class ActionForm(PageForm):
    """A button's form: its CSRF token only (the action is the button's ``do`` value)."""


# --- signing in and out ---------------------------------------------------------------------------------

@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(next_url)
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.sign_in(form.email.data, form.password.data, request.remote_addr or "unknown")
        except accounts.SignInRefused as exc:
            form.general_errors.append(str(exc))
            status = 429 if exc.locked_until else 400
        else:
            sign_in_session(user)
            return redirect(next_url)
    elif form.is_submitted():
        status = 400
    form.password.data = ""
    response = make_response(render_template("auth/sign_in.html", form=form, next=next_url), status)
    if status == 429:
        response.headers["Retry-After"] = "900"
    return response


@bp.route("/sign-out", methods=["GET", "POST"])
def sign_out():
    form = ActionForm()
    if request.method == "POST":
        if form.validate_on_submit():
            user = accounts.get_user(current_user.id)
            if user is not None:
                accounts.sign_out(user)           # ends the session on the server too
            logout_user()
            session.clear()
            flash("You have signed out.", "success")
            return redirect(url_for("auth.sign_in"))
        return render_template("auth/sign_out.html", form=form), 400
    return render_template("auth/sign_out.html", form=form)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str):
    try:
        found = accounts.invite_for(token)
    except accounts.InviteInvalid as exc:
        return render_template("auth/invite.html", problem=str(exc), form=None), exc.status, NO_STORE
    form = SetPasswordForm()
    if form.check(found.user.email):
        try:
            user = accounts.accept_invite(token, form.password.data)
        except accounts.InviteInvalid as exc:
            return render_template("auth/invite.html", problem=str(exc), form=None), exc.status, NO_STORE
        except accounts.PasswordRejected as exc:
            form.password.errors = [*form.password.errors, *exc.problems]
        else:
            sign_in_session(user)
            flash("Your password is set and you are signed in.", "success")
            return redirect(url_for("main.index"))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/invite.html", problem=None, form=form, user=found.user), status, NO_STORE


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    form = ChangePasswordForm()
    user = accounts.get_user(current_user.id)
    if form.check(user.email):
        try:
            accounts.change_password(user, form.current.data, form.password.data)
        except accounts.PasswordRejected as exc:
            form.password.errors = [*form.password.errors, *exc.problems]
        except accounts.AccountError as exc:
            form.current.errors = [*form.current.errors, str(exc)]
        else:
            sign_in_session(user)             # the old sessions end with the old password
            flash("Your password has been changed.", "success")
            return redirect(url_for("main.index"))
    return render_template("auth/password.html", form=form), 400 if form.is_submitted() else 200


# --- users (system administrators) -------------------------------------------------------------------------

def _link(token: str) -> str:
    return url_for("auth.invite", token=token, _external=True)


def _link_page(user, token: str, created: bool):
    return render_template("auth/link.html", user=user, link=_link(token), created=created,
                           hours=accounts.INVITE_HOURS), 200, NO_STORE


@bp.get("/users")
def users():
    return render_template("auth/users.html", users=accounts.list_users(), grant_text=accounts.grant_text,
                           now=accounts.now())


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = NewUserForm()
    if form.validate_on_submit():
        grant = form.grant()
        if grant is not None:
            try:
                user = accounts.create_user(form.email.data, form.name.data, [grant], created_by=current_user.email)
            except accounts.AccountError as exc:
                form.add_service_error(exc)
            else:
                return _link_page(user, accounts.invite(user, created_by=current_user.email), created=True)
    return render_template("auth/user_new.html", form=form, scope_hint=SCOPE_HINT), \
        400 if form.is_submitted() else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int):
    subject = accounts.get_user(user_id)
    if subject is None:
        abort(404, description=f"There is no user with id {user_id}.")
    grant_form = GrantForm(formdata=None)
    problem = None
    if request.method == "POST":
        action = request.form.get("do", "")
        form = ActionForm()
        if not form.validate_on_submit():
            problem = "The form has expired: reload the page and try again"
        elif action == "grant":
            grant_form = GrantForm()
            if grant_form.validate():
                grant = grant_form.grant()
                if grant is not None:
                    try:
                        accounts.grant_roles(subject, [grant])
                    except accounts.AccountError as exc:
                        grant_form.add_service_error(exc)
                    else:
                        flash(f"{subject.name} is now {accounts.grant_text(*grant)}.", "success")
                        return redirect(url_for("auth.user", user_id=subject.id))
        elif action == "invite":
            try:
                return _link_page(subject, accounts.invite(subject, created_by=current_user.email), created=False)
            except accounts.AccountError as exc:
                problem = str(exc)
        elif action == "end_sessions":
            accounts.end_sessions(subject, by=current_user.email)
            flash(f"Every session of {subject.name} has ended: they must sign in again.", "success")
            if subject.id == current_user.id:
                return redirect(url_for("auth.sign_in"))
            return redirect(url_for("auth.user", user_id=subject.id))
        elif action in ("revoke", "deactivate", "activate"):
            try:
                if action == "revoke":
                    raw = request.form.get("assignment", "")
                    accounts.revoke_role(subject, as_id(raw) or -1)
                    message = "The role was removed."
                else:
                    accounts.set_active(subject, action == "activate")
                    message = f"{subject.name} is {'reactivated' if action == 'activate' else 'deactivated'}."
            except accounts.AccountError as exc:
                problem = str(exc)
            else:
                flash(message, "success")
                return redirect(url_for("auth.user", user_id=subject.id))
        else:
            problem = "Choose one of the buttons on this page"
        return render_template("auth/user.html", subject=subject, grant_form=grant_form, problem=problem,
                               form=ActionForm(formdata=None), grant_text=accounts.grant_text,
                               scope_hint=SCOPE_HINT, now=accounts.now()), 400
    return render_template("auth/user.html", subject=subject, grant_form=grant_form, problem=problem,
                           form=ActionForm(formdata=None), grant_text=accounts.grant_text, scope_hint=SCOPE_HINT,
                           now=accounts.now())
