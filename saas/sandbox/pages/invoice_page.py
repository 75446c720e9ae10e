"""Hosted invoice page (an HTML receipt) and its PDF (a tiny, valid one-page PDF)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template

from ..util import format_amount, format_date

bp = Blueprint("sandbox_invoice", __name__)


def _invoice(inv_id):
    store = current_app.extensions["sandbox"].store
    inv = store.find(inv_id)
    if not inv or inv.get("object") != "invoice":
        abort(404)
    return store, inv


@bp.get("/i/<inv_id>")
def show(inv_id):
    store, inv = _invoice(inv_id)
    with store.lock:
        lines = [{"description": li["description"], "amount": format_amount(li["amount"], li["currency"]),
                  "period": f"{format_date(li['period']['start'])} – {format_date(li['period']['end'])}"}
                 for li in inv["lines"]["data"]]
        cur = inv["currency"]
        return render_template("sandbox/invoice.html", inv=inv, lines=lines, date=format_date(inv["created"]),
                               subtotal=format_amount(inv["subtotal"], cur),
                               discount=format_amount(inv["subtotal"] - inv["total"], cur),
                               total=format_amount(inv["total"], cur), paid=format_amount(inv["amount_paid"], cur),
                               remaining=format_amount(inv["amount_remaining"], cur))


@bp.get("/i/<inv_id>/pdf")
def pdf(inv_id):
    store, inv = _invoice(inv_id)
    with store.lock:
        text = [f"Invoice {inv['number'] or inv['id']}", f"Date: {format_date(inv['created'])}",
                f"Customer: {inv['customer_email'] or inv['customer']}"]
        text += [f"{li['description']}: {format_amount(li['amount'], li['currency'])}" for li in inv["lines"]["data"]]
        text += [f"Total: {format_amount(inv['total'], inv['currency'])}",
                 f"Amount paid: {format_amount(inv['amount_paid'], inv['currency'])}", f"Status: {inv['status']}"]
    return Response(make_pdf(text), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{inv["number"] or inv["id"]}.pdf"'})


def make_pdf(lines: list[str]) -> bytes:
    """A minimal single-page PDF with Helvetica text and a correct xref table."""
    def esc(s: str) -> str:
        s = s.encode("latin-1", "replace").decode("latin-1")
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 12 Tf 14 TL 56 780 Td " + " ".join(f"({esc(l)}) Tj T*" for l in lines) + " ET"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content.encode('latin-1'))} >>\nstream\n{content}\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out
