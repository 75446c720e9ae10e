"""Stripe-shaped API errors. Raised anywhere in a request; rendered by the app's error handler."""
from __future__ import annotations


class StripeError(Exception):
    def __init__(self, message: str, *, status: int = 400, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None, **extra):
        super().__init__(message)
        self.status = status
        self.body = {"type": type, "message": message}
        if code:
            self.body["code"] = code
        if param:
            self.body["param"] = param
        self.body.update({k: v for k, v in extra.items() if v is not None})

    @property
    def code(self) -> str | None:
        return self.body.get("code")


def unknown_param(name: str) -> StripeError:
    return StripeError(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


def missing_param(name: str) -> StripeError:
    return StripeError(f"Missing required param: {name}.", code="parameter_missing", param=name)


def invalid(name: str, message: str, code: str = "parameter_invalid_string") -> StripeError:
    return StripeError(message, code=code, param=name)


def no_such(kind: str, obj_id: str, param: str = "id") -> StripeError:
    return StripeError(f"No such {kind}: '{obj_id}'", status=404, code="resource_missing", param=param)


def state_error(message: str, param: str | None = None) -> StripeError:
    return StripeError(message, code="resource_invalid_state" if param is None else None, param=param)
