"""Built-in policies, written in the same mapping form as a YAML policy file.

* ``strict`` (the default): blocks file writes / modifications / deletions,
  destructive SQL, shell and code execution, and secret exposure. Every
  pattern is written against the shape of the dangerous thing (``DROP TABLE``,
  ``eval(``), not the bare word, so prose such as "drop-down menu", "the
  Delete key" or "executive summary" passes. Extend it with
  ``allowed_domains`` to also confine HTTP to known hosts.

  Beyond regexes, strict runs every structural check (parsed SQL, lexed
  shell, lexed code, the secret catalogue; see ``analysis``), all SIGKILL
  except ``shell:dynamic-command`` (a command only known at run time) and
  the ``*:too-complex`` checks (input past an analyser's budget): SIGSTOP, a
  human can often tell. Each regex reads only the fields whose meaning it
  fits (SQL shapes: SQL fields; shell shapes: command and code fields), so
  prose that talks about ``rm -rf`` passes; secrets are looked for in every
  field. These decisions:

  - ``UPDATE`` without a column-naming ``WHERE`` is SIGKILL (it rewrites
    every row: as destructive as the ``DELETE`` strict already blocks);
  - string-built SQL (``EXEC(@sql)``, ``PREPARE s FROM @q``) is SIGKILL: a
    reviewer cannot see the string either;
  - credential paths are protected for *every* action, reads included
    (``/etc/shadow``, ``~/.ssh/**``, ``~/.aws/**``, ``.env``, ``id_rsa``,
    ``/proc/*/environ``, ``/var/run/docker.sock``...): reading them is how
    secrets leave; ``.env.example`` and friends stay readable;
  - cloud metadata endpoints and link-local addresses are SIGKILL however
    the address is spelled; loopback, private and unspecified addresses
    are SIGSTOP (an agent reaching into the internal network is the SSRF
    shape, but local model servers are common enough to ask a human).
* ``audit``: every strict rule downgraded to SIGWARN: nothing is blocked,
  everything strict would block is logged.
* ``permissive``: nothing is blocked; secret exposure is still logged
  (SIGWARN), because a leaked key is worth knowing about even where agents
  are trusted.

Patterns are matched case-insensitively against normalised text, and a space
in a pattern matches any run of whitespace (see ``_normalise``); `` ?`` lets
keywords touch, as they do once ``DROP/**/TABLE`` loses its comment.
"""

from __future__ import annotations

from typing import Any

from agent_os.policies.analysis._patterns import CONTENT_PATTERNS, PATTERN_FIELDS

from ._types import FIELD_GROUPS

__all__ = ["PRESETS", "preset_mapping"]


STRICT_ACTIONS: tuple[tuple[str, str], ...] = (
    ("file_write", "writing files is blocked by the strict policy"),
    ("file_modify", "modifying files or resources is blocked by the strict policy"),
    ("file_delete", "deleting files or resources is blocked by the strict policy"),
    ("shell_exec", "shell execution is blocked by the strict policy"),
    ("code_exec", "code execution is blocked by the strict policy"),
)


STRICT_PATHS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "path:system-credentials",
        ("/etc/shadow", "/etc/shadow-", "/etc/shadow.*", "/etc/shadow~", "/etc/gshadow",
         "/etc/gshadow-", "/etc/gshadow.*", "/etc/gshadow~", "/etc/sudoers", "/etc/sudoers.d/**",
         "/etc/master.passwd", "/etc/security/opasswd"),
        "system credential file",
    ),
    (
        "path:ssh",
        ("~/.ssh/**", ".ssh/id_*", "/etc/ssh/ssh_host_*_key"),
        "SSH keys and configuration",
    ),
    (
        "path:private-keys",
        ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "*.ppk", "/etc/ssl/private/**",
         "/etc/pki/tls/private/**", "/etc/letsencrypt/**/privkey*.pem", "*.p12", "*.pfx"),
        "private key file",
    ),
    (
        "path:cloud-credentials",
        ("~/.aws/**", ".aws/credentials", "~/.config/gcloud/**", "~/appdata/roaming/gcloud/**",
         "~/.azure/**", "~/.kube/config",
         "~/.docker/config.json", "/var/run/secrets/**", "/run/secrets/**",
         "~/.config/gh/hosts.yml", "~/.config/hub", "~/.config/doctl/**", "~/.oci/**",
         "~/.databrickscfg", "~/.boto", "~/.s3cfg", "~/.vault-token",
         "~/.terraform.d/credentials.tfrc.json", "~/.config/rclone/rclone.conf",
         "/etc/kubernetes/*.conf", "/etc/kubernetes/pki/**", "/var/lib/kubelet/pki/**"),
        "cloud or cluster credentials",
    ),
    (
        "path:credential-files",
        ("~/.netrc", "~/.pgpass", "~/.git-credentials", "~/.npmrc", "~/.pypirc", "~/.gnupg/**",
         "~/.password-store/**", "~/.bash_history", "~/.zsh_history", "~/.psql_history",
         "~/.mysql_history", ".pgpass", ".netrc", ".git-credentials", "*.tfstate",
         "*.tfstate.backup", "/windows/system32/config/sam", "/windows/system32/config/system",
         "/windows/system32/config/security", "jenkins/secrets/**", "jenkins/credentials.xml"),
        "credential store or shell history",
    ),
    (
        "path:browser-credentials",
        ("login data", "login data for account", "logins.json", "key3.db", "key4.db",
         "cookies.sqlite", "google/chrome/**/cookies", "google-chrome*/**/cookies",
         "chromium/**/cookies", "microsoft/edge/**/cookies", "microsoft-edge*/**/cookies",
         "bravesoftware/**/cookies", "vivaldi/**/cookies", "opera*/**/cookies",
         # Chromium browsers keep the key that decrypts passwords and cookies here.
         "local state",
         "~/library/cookies/**", "*.binarycookies", "~/library/keychains/**",
         "*.keychain", "*.keychain-db",
         # Windows DPAPI master keys, Credential Manager and Vault.
         "microsoft/protect/**", "microsoft/credentials/**", "microsoft/vault/**",
         # GNOME keyring and KDE Wallet.
         "~/.local/share/keyrings/**", "*.keyring", "~/.local/share/kwalletd/**", "*.kwl"),
        "browser password, cookie, keychain or keyring store",
    ),
    (
        "path:dotenv",
        (".env", ".env.local", ".env.*.local", ".env.production", ".env.prod", ".env.staging",
         ".env.development", ".env.dev"),
        "environment file with secrets (.env)",
    ),
    (
        "path:process-secrets",
        ("/proc/*/environ", "/proc/*/mem", "/proc/kcore", "/dev/mem", "/dev/kmem"),
        "process memory or environment",
    ),
    ("path:docker-socket", ("/var/run/docker.sock", "/run/docker.sock"), "Docker socket"),
)  # fmt: skip

STRICT_NETWORKS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("net:metadata", ("metadata",), "cloud metadata endpoint", "SIGKILL"),
    ("net:link-local", ("link-local",), "link-local address", "SIGKILL"),
    (
        "net:internal",
        ("loopback", "private", "unspecified"),
        "loopback or private network address",
        "SIGSTOP",
    ),
)


_REVIEW_CHECKS = (
    "shell:dynamic-command",
    "shell:data-upload",
    "shell:too-complex",
    "sql:too-complex",
    "secret:too-complex",
)


def _strict(signal: str | None = None, only_secrets: bool = False) -> dict[str, Any]:
    def sig(entry: dict[str, Any]) -> dict[str, Any]:
        return entry if signal is None else {**entry, "signal": signal}

    actions = [] if only_secrets else [sig({"action": a, "reason": r}) for a, r in STRICT_ACTIONS]
    patterns = []
    for rule_id, regex, reason in CONTENT_PATTERNS:
        if only_secrets and not rule_id.startswith("secret:"):
            continue
        entry: dict[str, Any] = {"id": rule_id, "pattern": regex, "reason": reason}
        if rule_id in PATTERN_FIELDS:
            # Only groups this engine knows ("data" arrives with field meanings).
            entry["fields"] = [f for f in PATTERN_FIELDS[rule_id] if f in FIELD_GROUPS]
        patterns.append(sig(entry))
    body: dict[str, Any] = {"blocked_actions": actions, "blocked_patterns": patterns}
    # Too much to analyse within budget: a human looks (never skipped).
    review = [sig({"check": c, "signal": "SIGSTOP"}) for c in _REVIEW_CHECKS]
    if only_secrets:
        body["checks"] = [sig({"check": "secrets"}), *review[-1:]]
        return body
    body["checks"] = [
        sig({"check": "sql"}),
        sig({"check": "shell"}),
        sig({"check": "code"}),
        sig({"check": "secrets"}),
        sig({"check": "writes"}),
        *review,
    ]
    body["blocked_paths"] = [
        sig({"id": rule_id, "paths": list(globs), "reason": reason})
        for rule_id, globs, reason in STRICT_PATHS
    ]
    body["blocked_networks"] = [
        sig({"id": rule_id, "networks": list(nets), "reason": reason, "signal": level})
        for rule_id, nets, reason, level in STRICT_NETWORKS
    ]
    return body


def preset_mapping(name: str) -> dict[str, Any]:
    """The policy mapping of preset ``name`` (raises ``KeyError`` if unknown)."""
    if name == "strict":
        body = _strict()
        description = "Blocks file changes, destructive SQL, shell/code execution, secrets."
    elif name == "audit":
        body = _strict("SIGWARN")
        description = "Every strict rule downgraded to SIGWARN: logs, never blocks."
    elif name == "permissive":
        body = _strict("SIGWARN", only_secrets=True)
        description = "Allows everything; logs secret exposure (SIGWARN)."
    else:
        raise KeyError(name)
    return {"name": name, "version": "1", "description": description, **body}


#: Preset names, the default first.
PRESETS: tuple[str, ...] = ("strict", "audit", "permissive")
