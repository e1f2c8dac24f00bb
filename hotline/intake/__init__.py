"""Orders from channels other than the phone: Open311 clients and our own signed channels."""
