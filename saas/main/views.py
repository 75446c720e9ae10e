from flask import Blueprint, render_template

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    from saas.billing.models import Plan
    from saas.extensions import db

    plan = db.session.execute(db.select(Plan).where(Plan.code == "pro")).scalar_one_or_none()
    return render_template("home.html", pro_plan=plan)


@bp.get("/healthz")
def healthz():
    return {"ok": True}


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico whatever the page links; answer rather than log a 404.
    from flask import redirect, url_for

    return redirect(url_for("static", filename="favicon.svg"), code=301)
