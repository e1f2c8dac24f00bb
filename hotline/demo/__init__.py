"""``hotline demo``: the whole centre on the embedded servers, end to end, in one command."""
