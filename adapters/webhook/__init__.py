"""Agency systems at the edge: signed pushes out (``relay``), the signing scheme both directions share
(``signing``), and a reference receiver an agency can run (``receiver``). Callbacks in are served by
``hotline.agency``."""
