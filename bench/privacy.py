"""Privacy detection measured: our scrubber, Presidio's analyzer and detect-secrets, side by side.

The labelled corpus (``tests/data/privacy_labelled.jsonl``: log lines, each private value with
its category, a third of the lines with none) goes through each tool in the same run. For each
category: recall (a value counts as found when the tool's spans cover at least 90% of it) and
precision (a span that overlaps no labelled value is a false positive of the category the tool
gave it); then the share of negative lines left untouched, and records per second.

- ours: ``Scrubber.find`` with the default rules (what the ETL and the exports apply); the
  ``leaked`` figure checks the real output of ``scrub_text``: labelled values still in it.
- Presidio (``presidio-analyzer``): the predefined pattern recognizers (e-mail, phone, IP,
  card, IBAN, US SSN, bank numbers, ...). Its default NLP engine needs a spaCy model that is
  downloaded separately (``en_core_web_lg``, 400 MB) and is not installed here: it runs with a
  tokenizer-only engine (a blank spaCy English pipeline), so the NER-based recognizers (names,
  places) have nothing to say, and those are not what this corpus asks for.
- detect-secrets: its default plugins and filters over the corpus written as one file (scanned
  as YAML, where its keyword detector looks at ``key: value`` and ``key=value``), secret
  categories only.

    python bench/privacy.py [--json] [--split all|tune|holdout] [--ours-only]

Presidio and detect-secrets come with the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "privacy_labelled.jsonl"
SECRET_CATEGORIES = frozenset({
    "url_credentials", "key_value_secret", "json_yaml_secret", "authorization", "cookie", "query_token", "jwt", "pem",
    "aws_key", "cloud_key", "vcs_token", "saas_key", "high_entropy", "card",
})
#: our rule -> the category its false positives are counted under
OUR_CATEGORY = {
    "email": "email", "phone": "phone", "ipv4": "ipv4", "ipv6": "ipv6", "card": "card", "iban": "iban",
    "bank_account": "bank_account", "ssn": "ssn", "national_id": "national_id", "url_password": "url_credentials",
    "secret_value": "key_value_secret", "cookie": "cookie", "query_token": "query_token", "jwt": "jwt", "pem": "pem",
    "api_key": "saas_key", "high_entropy": "high_entropy", "bearer": "authorization",
}
PRESIDIO_CATEGORY = {
    "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "IP_ADDRESS": "ipv4", "CREDIT_CARD": "card",
    "IBAN_CODE": "iban", "US_BANK_NUMBER": "bank_account", "US_SSN": "ssn", "US_ITIN": "national_id",
    "US_PASSPORT": "national_id", "UK_NHS": "national_id", "US_DRIVER_LICENSE": "national_id", "URL": "other",
}
Span = tuple[int, int, str]  # start, end, category


def load(split: str = "all") -> list[dict[str, Any]]:
    """The corpus's rows (of ``split``); a malformed line stops the run naming its line number."""
    rows = []
    for n, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, spans = row["text"], row["spans"]
            missing = [s["value"] for s in spans if s["value"] not in text]
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{CORPUS}:{n}: not a labelled line ({{'text', 'spans': [{{'category', 'value'}}]}}): "
                             f"{exc!r}") from None
        if missing:
            raise SystemExit(f"{CORPUS}:{n}: labelled values not in the text: {missing}")
        row.setdefault("split", "tune")
        rows.append(row)
    return [r for r in rows if split == "all" or r["split"] == split]


def labelled_spans(row: dict[str, Any]) -> list[Span]:
    out, text = [], row["text"]
    for s in row["spans"]:
        start = text.find(s["value"])
        out.append((start, start + len(s["value"]), s["category"]))
    return out


def score(rows: list[dict[str, Any]], predicted: list[list[Span]]) -> dict[str, Any]:
    """Recall and precision per category, and the negatives kept, of one tool's spans."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # category -> [found, total]
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    negatives_kept = negatives = 0
    for row, spans in zip(rows, predicted, strict=True):
        labels = labelled_spans(row)
        if not labels:
            negatives += 1
            negatives_kept += not spans
        for start, end, category in labels:
            covered = sum(max(0, min(end, e) - max(start, s)) for s, e, _ in spans)
            found[category][1] += 1
            if covered >= 0.9 * (end - start):
                found[category][0] += 1
        for s, e, category in spans:
            hit = [c for ls, le, c in labels if min(e, le) > max(s, ls)]
            if hit:
                tp[hit[0]] += 1
            else:
                fp[category] += 1
    categories = sorted(set(found) | set(fp))
    per = {}
    for c in categories:
        f, total = found.get(c, [0, 0])
        per[c] = {"values": total, "recall": f / total if total else None,
                  "precision": tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else None, "false_positives": fp[c]}

    def pooled(secret: bool) -> float | None:
        f = sum(v[0] for c, v in found.items() if (c in SECRET_CATEGORIES) == secret)
        t = sum(v[1] for c, v in found.items() if (c in SECRET_CATEGORIES) == secret)
        return f / t if t else None

    return {"categories": per, "recall_secrets": pooled(True), "recall_pii": pooled(False),
            "negatives_kept": negatives_kept / negatives if negatives else None,
            "false_positives": sum(fp.values())}


def timed(fn: Callable[[list[str]], list[list[Span]]], texts: list[str], min_s: float = 1.0
          ) -> tuple[list[list[Span]], float]:
    """The tool's spans and its records per second (repeated until ``min_s`` has passed)."""
    spans = fn(texts)
    rounds, start = 0, time.perf_counter()
    while True:
        fn(texts)
        rounds += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_s:
            return spans, rounds * len(texts) / elapsed


# -- the tools -------------------------------------------------------------------------------
def ours() -> tuple[Callable[[list[str]], list[list[Span]]], Any]:
    from aico.config import load_settings
    from aico.privacy import PrivacyRules, Scrubber

    scrubber = Scrubber(PrivacyRules.from_settings(load_settings()), b"bench-key")

    def run(texts: list[str]) -> list[list[Span]]:
        return [[(s, e, OUR_CATEGORY.get(r, r)) for s, e, r in scrubber.find(t)] for t in texts]

    return run, scrubber


def presidio() -> Callable[[list[str]], list[list[Span]]]:
    import logging

    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # no network here: its bundled suffix list serves

    class TokenizerOnly(NlpEngine):
        """A blank spaCy English pipeline: tokens for context words, no NER model to download."""

        def __init__(self) -> None:
            self.nlp = spacy.blank("en")

        def load(self) -> None:
            pass

        def is_loaded(self) -> bool:
            return True

        def process_text(self, text: str, language: str) -> NlpArtifacts:
            doc = self.nlp(text)
            return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[t.idx for t in doc],
                                lemmas=[t.text.lower() for t in doc], nlp_engine=self, language=language)

        def process_batch(self, texts: Iterable[str], language: str, **kwargs: Any) -> Any:
            for text in texts:
                yield text, self.process_text(text, language)

        def is_stopword(self, word: str, language: str) -> bool:
            return False

        def is_punct(self, word: str, language: str) -> bool:
            return False

        def get_supported_entities(self) -> list[str]:
            return []

        def get_supported_languages(self) -> list[str]:
            return ["en"]

    engine = TokenizerOnly()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=engine)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])

    def run(texts: list[str]) -> list[list[Span]]:
        out = []
        for t in texts:
            found = analyzer.analyze(text=t, language="en", score_threshold=0.3)
            out.append([(r.start, r.end, "ipv6" if r.entity_type == "IP_ADDRESS" and ":" in t[r.start:r.end]
                         else PRESIDIO_CATEGORY.get(r.entity_type, r.entity_type.lower())) for r in found])
        return out

    return run


def detect_secrets() -> Callable[[list[str]], list[list[Span]]]:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    def run(texts: list[str]) -> list[list[Span]]:
        fd, name = tempfile.mkstemp(suffix=".yaml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("\n".join(t.replace("\n", " ") for t in texts) + "\n")
            with default_settings():
                found = SecretsCollection()
                found.scan_file(name)
                out: list[list[Span]] = [[] for _ in texts]
                for _, secret in found:
                    i = secret.line_number - 1
                    text, value = texts[i], secret.secret_value or ""
                    start = text.find(value) if value else -1
                    if start < 0:
                        continue
                    end = start + len(value)
                    while end < len(text) and not text[end].isspace() and text[end] not in "\"',;&":
                        end += 1  # "ghp" (a plugin's prefix group) stands for the whole token
                    out[i].append((start, end, "secret"))
                return out
        finally:
            os.unlink(name)

    return run


def leaked(rows: list[dict[str, Any]], scrubber: Any) -> list[str]:
    """Labelled values still present in ``scrub_text``'s output (the real masking, not ``find``)."""
    out = []
    for row in rows:
        text = scrubber.scrub_text(row["text"])
        out += [s["value"] for s in row["spans"] if s["value"] in text]
    return out


def changed_negatives(rows: list[dict[str, Any]], scrubber: Any) -> list[str]:
    return [r["text"] for r in rows if not r["spans"] and scrubber.scrub_text(r["text"]) != r["text"]]


def table(results: dict[str, dict[str, Any]]) -> str:
    tools = list(results)
    cats = sorted({c for r in results.values() for c in r["score"]["categories"]},
                  key=lambda c: (c not in SECRET_CATEGORIES, c))

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.0f}%"

    head = "| category | values | " + " | ".join(f"{t} recall | {t} precision" for t in tools) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(tools))]
    for c in cats:
        first = next((r["score"]["categories"][c] for r in results.values() if c in r["score"]["categories"]), {})
        cells = []
        for t in tools:
            v = results[t]["score"]["categories"].get(c)
            cells += [pct(v and v["recall"]), pct(v and v["precision"])]
        kind = "secret" if c in SECRET_CATEGORIES else "PII" if first.get("values") else "not in the corpus"
        lines.append(f"| {c} ({kind}) | {first.get('values') or 0} | " + " | ".join(cells) + " |")
    for label, key in (("recall, secrets", "recall_secrets"), ("recall, PII", "recall_pii"),
                       ("negatives kept", "negatives_kept")):
        lines.append(f"| **{label}** | | " + " | ".join(f"{pct(results[t]['score'][key])} | " for t in tools) + "|")
    lines.append("| **records/s** | | " + " | ".join(f"{results[t]['records_per_s']:,.0f} | " for t in tools) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("all", "tune", "holdout"), default="all")
    parser.add_argument("--corpus", type=Path, default=None, help="Another labelled corpus (same format).")
    parser.add_argument("--ours-only", action="store_true", help="Skip Presidio and detect-secrets.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    global CORPUS
    if args.corpus is not None:
        CORPUS = args.corpus
    rows = load(args.split)
    texts = [r["text"] for r in rows]
    run_ours, scrubber = ours()
    results: dict[str, dict[str, Any]] = {}
    spans, rate = timed(run_ours, texts)
    results["aico"] = {"score": score(rows, spans), "records_per_s": rate,
                       "leaked": leaked(rows, scrubber), "negatives_changed": changed_negatives(rows, scrubber)}
    if not args.ours_only:
        spans, rate = timed(presidio(), texts)
        results["presidio"] = {"score": score(rows, spans), "records_per_s": rate}
        secret_rows = [r for r in rows if all(s["category"] in SECRET_CATEGORIES for s in r["spans"])]
        spans, rate = timed(detect_secrets(), [r["text"] for r in secret_rows])
        results["detect-secrets"] = {"score": score(secret_rows, spans), "records_per_s": rate}
        results["aico"]["speedup_vs_presidio"] = results["aico"]["records_per_s"] / results["presidio"]["records_per_s"]
    summary = {"corpus": str(CORPUS.name), "split": args.split, "lines": len(rows),
               "negatives": sum(1 for r in rows if not r["spans"]), "results": results}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"corpus {CORPUS.name} ({args.split}): {len(rows)} lines, {summary['negatives']} negatives")
    print(table(results))
    a = results["aico"]
    if "speedup_vs_presidio" in a:
        print(f"aico is {a['speedup_vs_presidio']:.1f}x Presidio's throughput")
    print(f"aico leaked {len(a['leaked'])} labelled values: {a['leaked'][:20]}")
    print(f"aico changed {len(a['negatives_changed'])} negative lines: {a['negatives_changed'][:20]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
