// Success page: ask the server (never the URL) whether the webhook has made this account Pro.
(function () {
  var box = document.getElementById("confirm");
  if (!box || box.dataset.pro === "true") return;
  var url = box.dataset.statusUrl, started = Date.now(), delay = 700;
  function show(done) {
    document.getElementById("pending").hidden = done;
    document.getElementById("done").hidden = !done;
    if (done) document.title = document.title.replace("Confirming your payment", "Payment confirmed");
  }
  function tick() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (s) {
        if (s.pro) { show(true); return; }
        if (Date.now() - started > 15000) document.getElementById("slow").hidden = false;
        delay = Math.min(delay * 1.3, 5000);
        setTimeout(tick, delay);
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, delay);
})();
