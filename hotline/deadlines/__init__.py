"""Deadlines: policy (rules as data), the service order actions call, the clock worker,
and the supervisor's overdue views. The calendar they count on is :mod:`hotline.calendar`."""
