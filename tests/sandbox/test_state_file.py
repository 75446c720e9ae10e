"""The launcher keeps the sandbox's objects in a file across restarts; hosted-page links follow
the sandbox when it comes back on another port."""

from __future__ import annotations

from saas.sandbox.store import Store


def test_snapshot_restore_keeps_objects_and_rebases_links():
    first = Store()
    first.public_url = "http://127.0.0.1:12111"
    first.objects["in_1"] = {"id": "in_1", "object": "invoice",
                             "hosted_invoice_url": "http://127.0.0.1:12111/i/in_1",
                             "lines": {"data": [{"description": "kept http://127.0.0.1:12111 mid-text"}]}}
    first.order["invoice"].append("in_1")
    blob = first.snapshot()

    again = Store()
    again.public_url = "http://127.0.0.1:40001"
    again.restore(blob)
    inv = again.objects["in_1"]
    assert inv["hosted_invoice_url"] == "http://127.0.0.1:40001/i/in_1"
    assert inv["lines"]["data"][0]["description"] == "kept http://127.0.0.1:12111 mid-text"
    assert again.order["invoice"] == ["in_1"]
    again.order["customer"].append("cus_1")  # still a defaultdict after the rebase

    same = Store()
    same.public_url = "http://127.0.0.1:12111"
    same.restore(blob)
    assert same.objects["in_1"]["hosted_invoice_url"] == "http://127.0.0.1:12111/i/in_1"
