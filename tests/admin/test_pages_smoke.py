from tests.admin.conftest import add_customer, add_plan


def test_smoke(app, admin_client):
    with app.app_context():
        from saas.extensions import db
        add_plan()
        add_customer("a@example.com", 1)
        add_customer("b@example.com", 2, status="past_due", invoice_status="open", payment_problem="payment_failed", event_status="failed")
        db.session.commit()
    c, _ = admin_client
    for path in ["/admin", "/admin/subscriptions", "/admin/invoices", "/admin/events", "/admin/events/1",
                 "/admin/events/2/replay", "/admin/users", "/admin/users/1", "/admin/users/1/resync", "/admin/health", "/admin/actions",
                 "/admin/events?status=failed&email=b@example.com&from=2020-01-01&to=2030-01-01"]:
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:3000])
