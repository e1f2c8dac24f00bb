"""The supervisors' wallboard: per queue, callers waiting now, agents by state, today's figures
(``view``); pushed live after every change the AMI adapter stores (``push``)."""
