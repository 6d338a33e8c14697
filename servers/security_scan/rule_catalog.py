"""What the normaliser knows beyond a scanner's own output: severities, categories, CWEs, fix hints.

Scanners grade issues on their own scales (checkov offline gives none at all); these tables put
the rules the suite cares about on one scale, info < low < medium < high < critical.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuleInfo:
    severity: str | None = None
    category: str | None = None
    cwe: tuple[str, ...] = ()
    fix: str | None = None
    locate: str | None = None  # regex that finds the offending line inside a resource's range


BANDIT: dict[str, RuleInfo] = {
    "B602": RuleInfo("high", "injection", fix="Pass an argument list and drop shell=True."),
    "B605": RuleInfo("high", "injection", fix="Use subprocess.run with an argument list."),
    "B307": RuleInfo("high", "injection", fix="Use ast.literal_eval or a real parser instead of eval."),
    "B301": RuleInfo("high", "deserialization", fix="Never unpickle untrusted data; use json."),
    "B506": RuleInfo("high", "deserialization", fix="Use yaml.safe_load."),
    "B324": RuleInfo(
        "medium", "crypto", fix="Use hashlib.sha256, or usedforsecurity=False for non-security use."
    ),
    "B303": RuleInfo("medium", "crypto", fix="Use hashlib.sha256."),
    "B105": RuleInfo(None, "secrets", fix="Read secrets from the environment or a secret store."),
    "B106": RuleInfo(None, "secrets", fix="Read secrets from the environment or a secret store."),
    "B501": RuleInfo("high", "crypto", fix="Keep TLS verification on."),
    "B104": RuleInfo(None, "network", fix="Bind to 127.0.0.1 unless remote access is needed."),
}
BANDIT_CATEGORY_BY_PREFIX = {"B1": "misc", "B3": "misc", "B4": "imports", "B5": "crypto", "B6": "injection"}

DETECT_SECRETS: dict[str, RuleInfo] = {
    "AWS Access Key": RuleInfo("critical", cwe=("CWE-798",)),
    "Azure Storage Account access key": RuleInfo("critical", cwe=("CWE-798",)),
    "Private Key": RuleInfo("critical", cwe=("CWE-321",)),
    "IBM Cloud IAM Key": RuleInfo("critical", cwe=("CWE-798",)),
    "Base64 High Entropy String": RuleInfo("medium", cwe=("CWE-798",)),
    "Hex High Entropy String": RuleInfo("medium", cwe=("CWE-798",)),
    "Secret Keyword": RuleInfo("medium", cwe=("CWE-798",)),
    "Public IP (ipv4)": RuleInfo("low", cwe=("CWE-200",)),
}
SECRET_FIX = (
    "Remove the secret from the source, rotate it, and load it from the environment or a secret store."  # noqa: S105
)

CHECKOV: dict[str, RuleInfo] = {
    "CKV_K8S_16": RuleInfo(
        "high", "kubernetes", ("CWE-250",), "Remove privileged: true.", r"privileged:\s*true"
    ),
    "CKV_K8S_19": RuleInfo(
        "high", "kubernetes", ("CWE-653",), "Remove hostNetwork: true.", r"hostNetwork:\s*true"
    ),
    "CKV_K8S_17": RuleInfo("high", "kubernetes", ("CWE-653",), "Remove hostPID: true.", r"hostPID:\s*true"),
    "CKV_K8S_18": RuleInfo("high", "kubernetes", ("CWE-653",), "Remove hostIPC: true.", r"hostIPC:\s*true"),
    "CKV_K8S_20": RuleInfo("medium", "kubernetes", ("CWE-269",), "Set allowPrivilegeEscalation: false."),
    "CKV_K8S_23": RuleInfo("medium", "kubernetes", ("CWE-250",), "Set runAsNonRoot: true."),
    "CKV_K8S_27": RuleInfo(
        "high", "kubernetes", ("CWE-250",), "Do not mount the Docker socket.", r"docker\.sock"
    ),
    "CKV_K8S_39": RuleInfo("high", "kubernetes", ("CWE-250",), "Drop SYS_ADMIN.", r"SYS_ADMIN"),
    "CKV_DOCKER_7": RuleInfo(
        "medium", "container", ("CWE-1357",), "Pin the base image to a version tag or digest."
    ),
    "CKV_DOCKER_8": RuleInfo("medium", "container", ("CWE-250",), "End the Dockerfile with a non-root USER."),
    "CKV_DOCKER_3": RuleInfo("medium", "container", ("CWE-250",), "Add a non-root USER instruction."),
    "CKV_DOCKER_1": RuleInfo("medium", "container", (), "Do not expose SSH (port 22)."),
}

HADOLINT: dict[str, RuleInfo] = {
    "DL3007": RuleInfo(
        "medium", "container", ("CWE-1357",), "Pin the base image to a version tag or digest."
    ),
    "DL3002": RuleInfo("medium", "container", ("CWE-250",), "Switch to a non-root USER at the end."),
    "DL3004": RuleInfo("medium", "container", ("CWE-250",), "Do not use sudo in a Dockerfile."),
    "DL3020": RuleInfo("low", "container", (), "Use COPY instead of ADD for files."),
}
HADOLINT_LEVELS = {"error": "medium", "warning": "low", "info": "info", "style": "info"}

SHELLCHECK: dict[str, RuleInfo] = {
    "SC2086": RuleInfo("medium", "shell", ("CWE-88",), 'Double-quote the expansion: "$VAR".'),
    "SC2046": RuleInfo("medium", "shell", ("CWE-88",), 'Quote the command substitution: "$(...)".'),
    "SC2115": RuleInfo(
        "high", "shell", ("CWE-73",), 'Use "${var:?}" so an empty variable cannot turn rm -rf into rm -rf /.'
    ),
}
SHELLCHECK_LEVELS = {"error": "medium", "warning": "low", "info": "info", "style": "info"}

SEMGREP_LEVELS = {"ERROR": "high", "WARNING": "medium", "INFO": "low"}
