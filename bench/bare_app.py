"""The yardstick: a bare Flask POST endpoint that does nothing, served the same way."""

from flask import Flask

app = Flask(__name__)


@app.post("/api/webhooks/stripe")
def hook():
    return {"received": True}


@app.get("/healthz")
def healthz():
    return {"ok": True}
