/* Stripe sandbox: a stand-in for the part of Stripe.js (v3) a payment page uses.
 * Stripe(pk) -> elements({clientSecret}) -> create('payment'|'card') -> mount(target);
 * stripe.confirmPayment({elements, confirmParams: {return_url}, redirect}) and
 * stripe.retrievePaymentIntent(clientSecret). Talks to the sandbox API with the publishable key. */
(function () {
  "use strict";
  var API = {{ api_base|tojson }};

  function form(obj, prefix, out) {
    out = out || [];
    Object.keys(obj).forEach(function (k) {
      var v = obj[k], key = prefix ? prefix + "[" + k + "]" : k;
      if (v === undefined || v === null) return;
      if (typeof v === "object") form(v, key, out);
      else out.push(encodeURIComponent(key) + "=" + encodeURIComponent(String(v)));
    });
    return out.join("&");
  }

  function intentId(secret) { return String(secret || "").split("_secret_")[0]; }

  function withParams(url, params) {
    var u = new URL(url, window.location.href);
    Object.keys(params).forEach(function (k) { u.searchParams.set(k, params[k]); });
    return u.toString();
  }

  function Element(type, group) {
    this.type = type; this._group = group; this._handlers = {}; this._root = null;
  }
  Element.prototype.mount = function (target) {
    var el = typeof target === "string" ? document.querySelector(target) : target;
    if (!el) throw new Error("Stripe sandbox: mount target not found: " + target);
    // Built with the DOM and styled through CSSOM, never style attributes: a page with a strict
    // CSP (style-src 'self', as ours) blocks inline style attributes, and Stripe.js works there.
    el.textContent = "";
    var box = document.createElement("div");
    box.className = "sandbox-card";
    Object.assign(box.style, { display: "grid", gridTemplateColumns: "2fr 1fr 1fr", gap: "8px" });
    [["sandbox-card-number", "cardnumber", "cc-number", "1234 1234 1234 1234", "numeric"],
     ["sandbox-card-expiry", "exp-date", "cc-exp", "MM / YY", "numeric"],
     ["sandbox-card-cvc", "cvc", "cc-csc", "CVC", "numeric"]].forEach(function (f) {
      var input = document.createElement("input");
      input.id = f[0];
      input.name = f[1];
      input.autocomplete = f[2];
      input.placeholder = f[3];
      input.inputMode = f[4];
      Object.assign(input.style, { padding: "10px", border: "1px solid #d5dbe1", borderRadius: "6px", minWidth: "0" });
      box.appendChild(input);
    });
    el.appendChild(box);
    this._root = el;
    var self = this;
    el.querySelectorAll("input").forEach(function (input) {
      input.addEventListener("input", function () {
        var num = self._value("number").replace(/\s/g, "");
        self._emit("change", { elementType: self.type, empty: !num, complete: num.length >= 14, value: { type: "card" } });
      });
      input.addEventListener("focus", function () { self._emit("focus", { elementType: self.type }); });
      input.addEventListener("blur", function () { self._emit("blur", { elementType: self.type }); });
    });
    setTimeout(function () { self._emit("ready", { elementType: self.type }); }, 0);
    return this;
  };
  Element.prototype._value = function (part) {
    var input = this._root && this._root.querySelector("#sandbox-card-" + part);
    return input ? input.value : "";
  };
  Element.prototype._card = function () {
    var exp = this._value("expiry").replace(/[^0-9]/g, "");
    var card = { number: this._value("number").replace(/[\s-]/g, ""), cvc: this._value("cvc") };
    if (exp.length >= 4) { card.exp_month = exp.slice(0, 2); card.exp_year = exp.length === 4 ? "20" + exp.slice(2) : exp.slice(2); }
    return card;
  };
  Element.prototype.on = function (name, fn) { (this._handlers[name] = this._handlers[name] || []).push(fn); return this; };
  Element.prototype.off = function (name, fn) {
    this._handlers[name] = (this._handlers[name] || []).filter(function (h) { return h !== fn; }); return this;
  };
  Element.prototype._emit = function (name, ev) { (this._handlers[name] || []).forEach(function (h) { h(ev); }); };
  Element.prototype.update = function () { return this; };
  Element.prototype.focus = function () { var i = this._root && this._root.querySelector("input"); if (i) i.focus(); };
  Element.prototype.clear = function () { if (this._root) this._root.querySelectorAll("input").forEach(function (i) { i.value = ""; }); };
  Element.prototype.unmount = function () { if (this._root) this._root.innerHTML = ""; this._root = null; };
  Element.prototype.destroy = Element.prototype.unmount;

  function Elements(stripe, options) {
    this._stripe = stripe; this._options = options || {}; this._elements = [];
  }
  Elements.prototype.create = function (type) {
    var el = new Element(type, this); this._elements.push(el); return el;
  };
  Elements.prototype.getElement = function (type) {
    return this._elements.filter(function (e) { return e.type === type; })[0] || null;
  };
  Elements.prototype.submit = function () { return Promise.resolve({}); };
  Elements.prototype.update = function (opts) { Object.assign(this._options, opts || {}); };
  Elements.prototype.fetchUpdates = function () { return Promise.resolve({}); };

  function StripeSandbox(key) {
    if (!(this instanceof StripeSandbox)) return new StripeSandbox(key);
    if (!key || String(key).indexOf("pk_test_") !== 0) throw new Error("Stripe sandbox: use a pk_test_ publishable key");
    this._key = key;
  }

  StripeSandbox.prototype._api = function (method, path, params) {
    var body = form(params);
    var url = API + path + (method === "GET" && body ? "?" + body : "");
    return fetch(url, {
      method: method,
      headers: { "Authorization": "Bearer " + this._key, "Content-Type": "application/x-www-form-urlencoded" },
      body: method === "GET" ? undefined : body
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); });
  };

  StripeSandbox.prototype.elements = function (options) { return new Elements(this, options); };

  StripeSandbox.prototype._confirm = function (clientSecret, card, returnUrl, redirect, extra) {
    var params = Object.assign({ client_secret: clientSecret, payment_method_data: { type: "card", card: card } }, extra || {});
    if (returnUrl) params.return_url = returnUrl;
    return this._api("POST", "/v1/payment_intents/" + intentId(clientSecret) + "/confirm", params).then(function (res) {
      if (!res.ok) {
        var e = res.body.error || {};
        return { error: { type: e.type || "api_error", code: e.code, decline_code: e.decline_code, message: e.message,
                          payment_intent: e.payment_intent } };
      }
      var pi = res.body;
      if (pi.status === "requires_action" && pi.next_action && pi.next_action.redirect_to_url) {
        window.location.assign(pi.next_action.redirect_to_url.url);
        return new Promise(function () {});
      }
      if (pi.status === "succeeded" && returnUrl && redirect !== "if_required") {
        window.location.assign(withParams(returnUrl, { payment_intent: pi.id, payment_intent_client_secret: pi.client_secret,
                                                      redirect_status: "succeeded" }));
        return new Promise(function () {});
      }
      return { paymentIntent: pi };
    }, function (err) {
      return { error: { type: "api_connection_error", message: "Could not reach the Stripe sandbox: " + err } };
    });
  };

  StripeSandbox.prototype.confirmPayment = function (opts) {
    opts = opts || {};
    var elements = opts.elements, cp = opts.confirmParams || {};
    var secret = opts.clientSecret || (elements && elements._options.clientSecret);
    var el = elements && (elements.getElement("payment") || elements.getElement("card"));
    if (!secret || !el) return Promise.resolve({ error: { type: "validation_error", message: "Missing elements or clientSecret." } });
    var extra = {};
    if (cp.receipt_email) extra.receipt_email = cp.receipt_email;
    return this._confirm(secret, el._card(), cp.return_url, opts.redirect, extra);
  };

  StripeSandbox.prototype.confirmCardPayment = function (clientSecret, data) {
    data = data || {};
    var el = data.payment_method && data.payment_method.card;
    var card = el && el._card ? el._card() : {};
    return this._confirm(clientSecret, card, data.return_url, "if_required");
  };

  StripeSandbox.prototype.retrievePaymentIntent = function (clientSecret) {
    return this._api("GET", "/v1/payment_intents/" + intentId(clientSecret), { client_secret: clientSecret }).then(function (res) {
      return res.ok ? { paymentIntent: res.body } : { error: res.body.error };
    });
  };

  window.Stripe = StripeSandbox;
})();
