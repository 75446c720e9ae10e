"""Sign up, log in, log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from saas.accounts import services
from saas.accounts.forms import LoginForm, SignupForm
from saas.extensions import limiter

bp = Blueprint("accounts", __name__)


def safe_next(target: str | None) -> str | None:
    """Only our own paths: "/billing" yes; "//evil.com", "https://evil.com", "/\\evil" no.

    Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so
    "/<TAB>/evil.com" would become "//evil.com": any control character or whitespace is refused.
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return None
    if any(ch <= " " or ch == "\x7f" or ch == "\\" for ch in target):
        return None
    if target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _login(user) -> None:
    # Rotate the session at login: a session fixed before login must not carry over.
    cart_token = session.get("cart_token")
    session.clear()
    if cart_token:
        session["cart_token"] = cart_token  # the store merges the anonymous cart after login
    login_user(user)
    hook = current_app.extensions.get("saas.after_login")
    if hook:
        hook(user)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_SIGNUP"], methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("billing.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(form.email.data, form.password.data)
        except services.EmailTaken:
            form.email.errors.append("An account with this email already exists. Log in instead?")
        else:
            _login(user)
            flash("Welcome! Your account is ready.", "success")
            return redirect(safe_next(request.args.get("next")) or url_for("billing.index"))
    return render_template("accounts/signup.html", form=form), (422 if form.errors else 200)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("billing.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            error = "That email and password do not match an account."
        else:
            _login(user)
            return redirect(safe_next(request.args.get("next")) or url_for("billing.index"))
    return render_template("accounts/login.html", form=form, error=error), (422 if (error or form.errors) else 200)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("main.home"))
