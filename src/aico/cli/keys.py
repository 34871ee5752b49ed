"""``aico keys``: list the keys, and back them up to one passphrase-sealed file and restore them."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from aico.cli.common import console, settings
from aico.keyset.backup import export_keys, import_keys, open_keys, read_backup
from aico.keyset.inventory import inventory
from aico.keyset.passphrase import passphrase

app = typer.Typer(help="The keys of this AICO_HOME: status, backup (export/import), rotation.", no_args_is_help=True)


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="One JSON object per key.")) -> None:
    """Each key: where it is kept (keyring, file, environment), when made, its fingerprint; never the key.
    After a spool rotation, the previous spool key too, with the spooled batches still sealed under it."""
    from aico.keyset.spool_rotation import previous_key

    s = settings()
    rows: list[dict[str, object]] = [{"key": i.spec.label, "kept": i.where or "not made yet", "made": i.made or "-",
                                      "fingerprint": i.fingerprint or "-"} for i in inventory(s)]
    previous = previous_key(s)
    if previous is not None:
        info, frames = previous
        rows.append({"key": info.spec.label, "kept": info.where, "made": info.made or "-",
                     "fingerprint": info.fingerprint, "spooled": frames})
    if as_json:
        console().file.write(json.dumps(rows) + "\n")
        return
    for r in rows:
        still = f"  ({r['spooled']} spooled batches need it)" if "spooled" in r else ""
        console().print(f"{r['key']:<16} {r['kept']!s:<13} {r['made']!s:<26} {r['fingerprint']}{still}")


@app.command("export")
def export_cmd(file: Path = typer.Argument(..., help="The backup file to write (0600).")) -> None:
    """Write every key to FILE, sealed under a passphrase (AICO_PASSPHRASE, or asked twice)."""
    s = settings()
    labels = export_keys(s, file, passphrase(confirm=True, purpose="to seal the key backup"))
    console().print(f"{len(labels)} keys sealed in {file}: {', '.join(labels)}; keep it and its passphrase apart")


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="A backup written by `aico keys export`."),
    replace: bool = typer.Option(False, "--replace", help="Replace keys this home already has (their data is lost)."),
) -> None:
    """Restore the keys in FILE into this home, so its store and archives open (AICO_PASSPHRASE, or asked)."""
    s = settings()
    doc = read_backup(file)
    keys = open_keys(doc, passphrase(confirm=False, purpose=f"of {file}"))
    for label, what in import_keys(s, keys, replace=replace).items():
        console().print(f"{label:<16} {what}")


@app.command()
def rotate(key: str = typer.Argument(..., help="database, archives, analytics, privacy, spool, bus, bridge-token or "
                                                "dashboard-token."),
           wait: float = typer.Option(30.0, "--wait", min=0, metavar="SECONDS",
                                      help="database: how long to wait for other connections to the store to "
                                           "close before giving up (the old key then still opens it)."),
           ) -> None:
    """Replace KEY with a new one and re-encrypt what it protects, crash-safely (the database also with the
    backend running: writes wait and readers reopen with the new key)."""
    from aico.keyset.inventory import spec
    from aico.keyset.rotation import rotate_db

    s = settings()
    label = spec(key).label
    if label == "database":
        old, new = rotate_db(s, wait_s=wait)
    elif label == "analytics":
        from aico.keyset.analytics_rotation import rotate_analytics

        old, new = rotate_analytics(s)
    elif label == "archives":
        from aico.keyset.archive_rotation import rotate_archives

        old, new, unreadable = rotate_archives(s)
        if unreadable:
            console(stderr=True).print(f"aico: left as they were (they open with neither key): {', '.join(unreadable)}")
    elif label == "spool":
        from aico.keyset.spool_rotation import rotate_spool

        old, new = rotate_spool(s)
        console(stderr=True).print("aico: applications that log seal under the old spool key until they restart; "
                                   "it is kept as the previous key, still read")
    else:
        from aico.keyset.replace import rotate_other

        old, new = rotate_other(s, label)
    console().print(f"{label} key rotated: fingerprint {old} -> {new}")
