"""Call recordings (the MixMonitor files): which file is a call's, and where it is fetched from.

:mod:`.names` turns what the call's events named (``MIXMONITOR_FILENAME``), or for a call known
only from CEL or queue_log the name the dialplan gives (``HOTLINE_RECORDINGS_NAME``), into a name
relative to Asterisk's monitor directory, refusing any that would leave it. The file is then read
from a directory mounted on this machine (:mod:`.local`, ``HOTLINE_RECORDINGS_DIR``) or relayed
from a file server that has that directory (:mod:`.remote`, ``HOTLINE_RECORDINGS_URL``).
"""
