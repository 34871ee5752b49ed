"""The keys of one AICO_HOME as a set a person manages: listed, backed up, restored, rotated.

    inventory.py   which keys there are, where each is kept, fingerprints (never the key)
    passphrase.py  Argon2id: a key from a passphrase (AICO_PASSPHRASE or asked on a terminal)
    backup.py      every key in one file sealed under a passphrase, and back
    rotation.py    the database key, re-keyed in place (online.py: by the running backend's writer)
    spool_rotation.py  the spool key, the old one still read as the previous key
"""
