"""Retention and rollover of the log store: 30 days, a size cap, daily encrypted archives.

``policy`` says which days stay hot, go to archives, or are deleted; ``archive_file`` is the
archive format (compressed, then AES-256-GCM); ``archives`` is the folder (key, lock,
listing, reading records back); ``rollover`` moves one day crash-safely; ``job`` is one
run of the whole policy; ``restore`` puts a day back; ``plugin`` runs the job in the backend.
"""
