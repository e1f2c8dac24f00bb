"""The unit callback service: what agency systems (HMAC-signed) and handlers (bearer token)
read and do through ``/api/units/me/…`` — their assignments, callbacks on them, idempotency
keys, and the keys that sign their requests. The outbound side (the relay that pushes to
their systems) stays in ``adapters.webhook``."""
