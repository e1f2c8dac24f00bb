"""Agency systems at the edge: signed callbacks in (``callbacks``), signed pushes out (``relay``)."""
