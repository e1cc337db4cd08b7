"""Every secret type through every channel: not one byte of a secret in any file of the run
directory, nor on stderr.

A real traced program runs in a fresh interpreter (so its ``sys.argv``, environment and
stderr are its own). It carries each secret, in the form it takes in the wild, through
attributes and attribute names, tool arguments (an argv list too), LLM outputs, exception
messages (a failed subprocess quotes its command), nested containers and bytes, span,
component, event and phase names, coordination events, the execution metadata (query,
config holding the environment, command line, git remote) and an exporter whose exception
message holds them all. Then every file under the base directory is read as bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._helpers import run_interpreter

PEM_BODY = "MIIEowIBAAKCAQEA7bq98fJk2xQzVb3Lm9Rt4Vb8Nc3Jk6Hd1Fs5Gw0Zeq\nQx2Lm9Rt4Vb8Nc3Jk6Hd1Fs5G"
#: kind: (the secret as it appears in text, the part that must never be written).
CORPUS = {
    "openai": ("sk-proj-Zx9Yw8Vu7Ts6Rq5PZx9Yw8Vu7Ts6Rq5P",) * 2,
    "anthropic": ("sk-ant-api03-A1b2C3d4E5f6G7h8A1b2C3d4E5f6G7h8",) * 2,
    "google": ("AIzaSyD4f6G8h0J2k4L6n8P0r2T4v6X8z0B2c4E",) * 2,
    "github": ("ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",) * 2,
    "aws_key_id": ("AKIAIOSFODNN7QWERTYU",) * 2,
    "jwt": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9",)
    * 2,
    "bearer": ("Authorization: Bearer Tk7Rq2Lm9Vb8Nc3Jk6Hd", "Tk7Rq2Lm9Vb8Nc3Jk6Hd"),
    "bearer_lower": ("authorization: bearer qzvbmlkrtsnwpjdhxcyfague", "qzvbmlkrtsnwpjdhxcyfague"),
    "env_assignment": ("API_TOKEN=Wq3Er5Ty7Ui9Op1As", "Wq3Er5Ty7Ui9Op1As"),
    "url_password": ("postgres://admin:Pg4Ss8Wd2Zx@db:5432/app", "Pg4Ss8Wd2Zx"),
    "url_empty_user": ("redis://:Rd5Pw9Qz3Xc@cache:6379/0", "Rd5Pw9Qz3Xc"),
    "url_colon_at": ("amqp://user:Mq7:Vr@Kx2Jw@broker/vhost", "Mq7:Vr@Kx2Jw"),
    "slack_bot": ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",) * 2,
    "slack_user": ("xoxp-123456789012-1234567890123-1234567890123-0a1b2c3d4e5f6a7b",) * 2,
    "stripe_live": ("sk_live_51H8xYzAbCdEfGhIjKlMnOpQrStUv",) * 2,
    "stripe_restricted": ("rk_live_51H8xYzAbCdEfGhIjKlMnOpQrSt",) * 2,
    "pem": (
        f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----",
        PEM_BODY.split("\n")[1],
    ),
    "basic": ("Authorization: Basic dXNlcjpIdW50ZXIyQmFzaWM=", "dXNlcjpIdW50ZXIyQmFzaWM"),
    "yaml_aws": ("aws_secret_access_key: wJalrXUtnFEMIK7MDENGbPxRfiCY", "wJalrXUtnFEMIK7MDENG"),
    "yaml_password": ("password: Yp6Hn2Bv8Cx", "Yp6Hn2Bv8Cx"),
    "cli_password": ("mysql --password Cl9Pw3Dk7 -u root", "Cl9Pw3Dk7"),
    "json_password": ('{"password": "Js8Pw4Qx2"}', "Js8Pw4Qx2"),
    "argv_repr": ("['--api-key', 'Ar3Gv7Rp5']", "Ar3Gv7Rp5"),
    "github_fine_grained": ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzAB",) * 2,
    "github_oauth": ("gho_Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2",) * 2,
    "slack_app": ("xapp-1-A0123BCDE45-1234567890123-0a1b2c3d4e5f6a7b8c9d",) * 2,
    "stripe_test": ("sk_test_4eC39HqLyjWDarjtT1zdp7dc",) * 2,
    "aws_session_key_id": ("ASIAQWERTYUIOP123456",) * 2,
    # Kinds no rule knew before: each leaked through every channel.
    "azure_account_key": (
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2"
        "Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJD==;EndpointSuffix=core.windows.net",
        "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJD",
    ),
    "jwt_spaced_header": (
        "eyAiYWxnIjogIkhTMjU2IiwgInR5cCI6ICJKV1QiIH0.eyAic3ViIjogIjEyMzQ1Njc4OTAiIH0"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ),
    "aws_csv_row": (
        "Access key ID,Secret access key\n"
        "AKIAQ2WE3RT4YU5IO6PA,cV7bN8mQ1wE2rT3yU4iO5pA6sD7fG8hJ9kL0zXcV\n",
        "cV7bN8mQ1wE2rT3yU4iO5pA6sD7fG8hJ9kL0zXcV",
    ),
    "huggingface": ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",) * 2,
    "groq": ("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",) * 2,
    "gitlab": ("glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn",) * 2,
    "google_oauth": ("GOCSPX-Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9",) * 2,
    "apim_header": (
        "Ocp-Apim-Subscription-Key: 9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
        "9c1d2e3f4a5b6c7d8e9f",
    ),
    "azure_sas": (
        "https://acct.blob.core.windows.net/c/b?sv=2021-06-08&sr=b&sp=r&sig=Sg4Tr8Kq2Wm6%2BZp%3D",
        "Sg4Tr8Kq2Wm6",
    ),
    "db_pass": ("db_pass='Dp5Ss9Qw3'", "Dp5Ss9Qw3"),
}
#: A bare AWS secret, no name or id beside it: only the high-entropy rule can catch it.
BARE_AWS = (
    "aws_bare",
    (
        "the secret is Bw7nM2qX9vL4kJ8hG3fD6sA1pO5iU0yT2rE4wQ6z",
        "Bw7nM2qX9vL4kJ8hG3fD6sA1pO5iU0yT2rE4wQ6z",
    ),
)
#: Given on the program's own command line as separate words (sys.argv reaches the metadata).
ARGV_SECRET = "Av5Rg8Vs2Lq"
#: In the program's environment, copied into its config (an app recording its settings).
ENV_SECRET = "En4Vs7Cr1Tz"

PROGRAM = """
import json, os, subprocess, sys
import spanline
from spanline import coordination, traced_llm, traced_tool

corpus = json.loads(open(os.environ["CORPUS_FILE"]).read())
carriers = [carrier for carrier, _ in corpus.values()]


class Leaky:
    name = "leaky"

    def export(self, batch):
        raise RuntimeError("upload failed: " + " | ".join(carriers))


@traced_tool
def run_command(argv, payload, blob):
    return {"stdout": payload, "argv": argv}


@traced_llm(provider="openai", model="gpt-4o")
def ask(prompt, answer):
    usage = {"prompt_tokens": 3, "completion_tokens": 1}
    return {"choices": [{"message": {"content": answer}}], "usage": usage}


run = spanline.configure_observability(
    enabled=True,
    run_dir=sys.argv[1],
    service_name="corpus",
    exporters=[Leaky()],
    capture=sys.argv[2],
    query="find out why " + " and ".join(carriers),
    config={"environment": dict(os.environ), "notes": carriers},
    source_repo="https://x-access-token:" + corpus["github"][0] + "@github.com/o/r.git",
)
tracer = spanline.get_tracer()
for kind, (carrier, _) in corpus.items():
    with tracer.span(f"step {carrier}", component=f"part {carrier}", note=carrier) as span:
        span.set_attribute("nested", {"a": [({"b": carrier},)], "raw": carrier.encode()})
        span.set_attribute("bag", {frozenset([carrier]): (carrier, [carrier.encode()])})
        span.set_attribute(f"key {carrier}", 1)
        run_command(["tool", "--password", carrier, "--token", carrier], carrier, carrier.encode())
        ask(f"please use {carrier}", f"the answer holds {carrier}")
        tracer.event(f"event {carrier}", note=carrier)
        coordination.new_answer("agent1.1", content=carrier)
        try:
            with tracer.span("failing"):
                raise RuntimeError(f"failed with {carrier}")
        except RuntimeError:
            pass
        try:
            with tracer.span("subprocess"):
                raise subprocess.CalledProcessError(1, ["mysql", "--password", carrier])
        except subprocess.CalledProcessError:
            pass
    tracer.phase(f"phase {carrier}", note=carrier)
spanline.shutdown()
"""


def needles(corpus: dict[str, tuple[str, str]]) -> dict[str, str]:
    found = {kind: needle for kind, (_, needle) in corpus.items()}
    return {**found, "argv": ARGV_SECRET, "environment": ENV_SECRET}


@pytest.mark.parametrize(
    ("capture", "entropy"), [("preview", False), ("full", False), ("preview", True), ("full", True)]
)
def test_no_secret_of_any_type_reaches_any_file_or_stderr(
    tmp_path: Path, capture: str, entropy: bool
) -> None:
    """With the high-entropy rule on, the corpus also holds a bare AWS secret."""
    corpus = dict(CORPUS, **dict([BARE_AWS])) if entropy else CORPUS
    corpus_file = tmp_path / "corpus.json"
    corpus_file.write_text(json.dumps(corpus))
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    base = tmp_path / "base"
    argv = [str(program), str(base), capture, "--password", ARGV_SECRET]
    argv += [f"--api-key={ARGV_SECRET}", "--db", CORPUS["url_empty_user"][0]]
    env = {"CORPUS_FILE": str(corpus_file), "DB_PASSWORD": ENV_SECRET}
    env |= {"SLACK_BOT_TOKEN": CORPUS["slack_bot"][0], "DATABASE_URL": CORPUS["url_colon_at"][0]}
    env |= {"SPANLINE_REDACT_ENTROPY": "1"} if entropy else {}
    result = run_interpreter(*argv, env=env, timeout=120)
    assert result.returncode == 0, result.stderr

    files = {path: path.read_bytes() for path in base.rglob("*") if path.is_file()}
    names = {path.name for path in files}
    expected = {"telemetry.jsonl", "run_summary.json", "execution_metadata.yaml", "spanline.log"}
    assert expected <= names, names
    leaks = [
        f"{kind} in {path.relative_to(base)}"
        for kind, needle in needles(corpus).items()
        for path, data in files.items()
        if needle.encode() in data
    ]
    leaks += [
        f"{kind} on stderr" for kind, needle in needles(corpus).items() if needle in result.stderr
    ]
    assert leaks == []

    # Every channel was really taken: the redactions are there, and so is what surrounds them.
    by_name = {path.name: data.decode() for path, data in files.items()}
    telemetry = by_name["telemetry.jsonl"]
    assert telemetry.count('"name":"step ') == len(corpus)
    assert '"name":"step [REDACTED]"' in telemetry and "--password" in telemetry
    assert "'--password', '[REDACTED]'" in telemetry  # the subprocess error's message
    metadata = by_name["execution_metadata.yaml"]
    assert "--password" in metadata and "DB_PASSWORD" in metadata and "[REDACTED]" in metadata
    assert "[REDACTED]" in by_name["run_summary.json"]
    for text in (by_name["spanline.log"], result.stderr):
        assert "exporter leaky raised" in text and "upload failed: [REDACTED]" in text
