"""A shipped model on a whole corpus it never trained on, as `serkit predict` runs it (with or without --adapt).

The shipped models were trained on EMO-DB and nEMO; ASED (read from ``$SERKIT_CORPORA/ased``) is
the corpus they never heard, and its loco fold trained exactly their configuration on exactly their
data.  So this script's UA should equal that fold's development figure: a check that what is
shipped is what was measured, end to end (reading files, features, the model, and for
``--adapt`` the collection's statistics, all ASED files being one collection)::

    SERKIT_CORPORA=/work/corpora python benchmarks/shipped_on_corpus.py --model default [--adapt]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from serkit.corpora import read_corpus, select_classes
from serkit.evaluation import unweighted_average_recall
from serkit.inference import load_model
from serkit.inference.adapt import AdaptingPredictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--corpus", default="ased")
    parser.add_argument("--root", type=Path, help="the corpus folder (default: $SERKIT_CORPORA/CORPUS)")
    parser.add_argument("--adapt", action="store_true", help="standardise by the whole corpus's statistics")
    args = parser.parse_args()
    root = args.root or Path(os.environ.get("SERKIT_CORPORA", "")) / args.corpus
    table = select_classes(read_corpus(args.corpus, str(root)), "4class")
    model = load_model(args.model, backend="torch")
    predictor = AdaptingPredictor(model) if args.adapt else model
    started = time.perf_counter()
    predictions = predictor.predict_files(list(table.path))
    failed = [p for p in predictions if not p.ok]
    ua = unweighted_average_recall(list(table.label), [p.label for p in predictions], labels=sorted(set(table.label)))
    print(f"{args.model}{' --adapt' if args.adapt else ''} on {args.corpus} ({len(table)} files, 4 classes): "
          f"UA {100 * ua:.1f}; {len(failed)} failed; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
