// Order page: poll our own server (never trust the URL) until the order's status is final.
(function () {
  var box = document.getElementById("order");
  if (!box || box.dataset.final === "true") return;
  var url = box.dataset.statusUrl, delay = 600, current = box.dataset.status;
  var LABELS = { paid: ["Paid", "ok"], refunded: ["Refunded", "muted"], failed: ["Payment failed", "bad"],
                 cancelled: ["Cancelled", "muted"], requires_action: ["Needs authentication", "warn"],
                 pending: ["Awaiting payment", "warn"] };
  function render(s) {
    var badge = document.getElementById("order-status"), label = LABELS[s.status] || [s.status, "muted"];
    badge.textContent = label[0];
    badge.className = "badge badge-" + label[1];
    badge.dataset.status = s.status;
    box.dataset.status = s.status;
    document.getElementById("order-waiting").hidden = s.final;
    document.getElementById("order-paid").hidden = s.status !== "paid";
    document.getElementById("order-failed").hidden = s.status !== "failed";
    if (s.status === "failed" && s.failure_message) document.getElementById("failure-message").textContent = s.failure_message;
    var pay = document.getElementById("pay-now");
    if (pay) pay.hidden = s.status !== "pending";
  }
  function tick() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.status !== current) { current = s.status; render(s); }
        if (s && s.final) { box.dataset.final = "true"; return; }
        delay = Math.min(delay * 1.25, 5000);
        setTimeout(tick, delay);
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, delay);
})();
