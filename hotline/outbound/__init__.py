"""Click-to-call: the centre calls a citizen about an order through Asterisk (see hotline.api.outbound)."""
