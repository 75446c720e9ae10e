// Store checkout: mount Stripe's Payment Element and confirm the order's Payment Intent.
// The amount is fixed server-side in the intent; this page only collects the card.
(function () {
  var form = document.getElementById("payment-form");
  if (!form || typeof window.Stripe !== "function") return;
  var button = document.getElementById("pay");
  var message = document.getElementById("payment-message");
  var stripe = window.Stripe(form.dataset.publishableKey);
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  var payment = elements.create("payment");
  payment.on("ready", function () { button.disabled = false; });
  payment.mount("#payment-element");

  // Stripe's own messages are already plain; these cover the codes whose wording we prefer.
  var PLAIN = {
    insufficient_funds: "Your card has insufficient funds. Try another card.",
    expired_card: "Your card has expired. Try another card.",
    generic_decline: "Your card was declined. Try another card.",
    card_declined: "Your card was declined. Try another card.",
    payment_intent_authentication_failure: "Your bank could not confirm it was you (authentication failed). Try again or use another card."
  };

  function show(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    show("");
    stripe.confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.returnUrl } })
      .then(function (result) {
        // Only reached when there is no redirect: the payment did not go through.
        if (result.error) {
          var e = result.error;
          show(PLAIN[e.decline_code] || PLAIN[e.code] || e.message || "The payment did not go through.");
        }
        button.disabled = false;
      });
  });
})();
