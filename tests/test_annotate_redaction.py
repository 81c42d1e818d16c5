"""judge.redact: personal identifiers never reach a remote judge; the preference files keep them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.benchmarks.judge_server import FakeChatServer
from jobmatch.annotate.redaction import redact_items
from jobmatch.app.annotate_task import run
from jobmatch.app.train_task import train
from jobmatch.data.readers import read_preferences
from tests.helpers import FAST, FIXTURES, compose_config

SECRETS = (
    "jane.doe@example.org",
    "+44 20 7946 0958",
    "https://example.org/~jdoe",
    "0000-0002-1825-0097",
    "Maria Garcia",
)
CONTACT = " Contact: jane.doe@example.org, +44 20 7946 0958, https://example.org/~jdoe, ORCID 0000-0002-1825-0097."


def test_listed_names_are_redacted_without_being_marked() -> None:
    items = [("JD text", "Name: Kwame Mensah (he/him)\nprofile", "Dr. Yuki Tanaka wrote it")]
    out, counts = redact_items(items, [[]])
    assert out == [("JD text", "Name: [NAME] (he/him)\nprofile", "Dr. [NAME] wrote it")]
    assert counts["name"] == 2 and counts["email"] == 0


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    """Train/val/test files cut from the fixture, every talent carrying a name and contact details."""
    root = tmp_path_factory.mktemp("pii")
    out = []
    lines = (FIXTURES / "contrastive_tiny.jsonl").read_text().splitlines()
    for name, part in (("train", lines[:8]), ("val", lines[8:10]), ("test", lines[10:])):
        rows = [json.loads(line) for line in part]
        for row in rows:
            for key in ("positives", "negatives"):
                row[key] = [f"Name: Maria Garcia (she/her)\n{text}{CONTACT}" for text in row[key]]
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        out.append(f"data.{name}_file={root / f'{name}.jsonl'}")
    ckpt = train(compose_config(FAST, run_dir=root / "stage1"))["checkpoint/best"]
    return out, ckpt


@pytest.mark.parametrize("redact", [True, False])
def test_nothing_redacted_reaches_the_server(tmp_path: Path, files, redact: bool) -> None:
    split_files, ckpt = files
    with FakeChatServer() as server:
        cfg = compose_config(
            [
                *FAST,
                f"ckpt={ckpt}",
                *split_files,
                "annotate.pairs_per_query=2",
                "annotate.test_pairs_per_query=2",
                "annotate.top_k=10",
                "judge=local",
                f"judge.base_url={server.url}",
                "judge.model=fake-judge",
                "judge.progress=false",
                f"judge.redact={str(redact).lower()}",
            ],
            run_dir=tmp_path / "run",
            config_name="annotate",
        )
        summary = run(cfg)
        sent = "\n".join(server.prompts)
    assert summary["annotate/annotated"] == 24 and len(server.prompts) == 24
    for secret in SECRETS:
        assert (secret in sent) is not redact, secret
    if redact:
        # 24 items x 2 profiles: each an e-mail, a phone, a URL, an ORCID and the name (twice: line + part)
        assert {k: summary[f"annotate/redacted_{k}"] for k in ("email", "phone", "url", "orcid")} == dict.fromkeys(
            ("email", "phone", "url", "orcid"), 48
        )
        assert summary["annotate/redacted_name"] == 48
    else:
        assert "annotate/redacted_name" not in summary
    kept = read_preferences(tmp_path / "run" / "preferences_train.jsonl")
    assert all(s in kept[0].passage1 for s in SECRETS)  # training data keeps the original texts
