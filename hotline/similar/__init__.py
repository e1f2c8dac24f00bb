"""Repeats and duplicates at intake (重复件).

- ``minhash``: MinHash signatures of an order's content and their LSH bands
- ``signatures``: the bands of each new order, stored at intake and pruned after the window
- ``candidates``: earlier orders like a given one, each with its reasons
- ``links``: the agent's decision — link as a repeat (or merge, an order action) — audited
"""
