"""The strict preset's content patterns: (rule id, RE2 regex, reason).

They live beside the analysers because redaction reuses the secret ones.
"""

from __future__ import annotations

_IDENT = r"[\w.$`\[\]]+"

STRICT_PATTERNS: tuple[tuple[str, str, str], ...] = (
    # Destructive SQL.
    (
        "sql:drop",
        r"\bdrop ?(?:table|database|schema|view|materialized ?view|index|user|role|function"
        r"|procedure|trigger|sequence|tablespace|extension|owned)\b",
        "destructive SQL: DROP",
    ),
    (
        "sql:delete",
        rf"(?m)\bdelete ?from ?{_IDENT}(?: ?(?:;|$|where\b|returning\b|using\b|limit\b)"
        rf"| (?:as )?\w+ where\b)",
        "destructive SQL: DELETE",
    ),
    (
        "sql:truncate",
        rf"(?m)\btruncate ?table\b|(?:^|;) ?truncate {_IDENT} ?(?:;|$|cascade\b|restart\b)",
        "destructive SQL: TRUNCATE",
    ),
    ("sql:alter-drop", r"\balter ?table\b[^;\x00]*\bdrop\b", "destructive SQL: ALTER ... DROP"),
    # Shell.
    (
        "shell:rm-rf",
        r"\brm (?:-[\w-]+ )*(?:-[a-z]*r[a-z]*|--recursive)\b",
        "recursive file deletion (rm -r)",
    ),
    (
        "shell:pipe-to-shell",
        r"\b(?:curl|wget)\b[^\n|]*\| ?(?:sudo )?(?:ba|z|da|k|fi)?sh\b",
        "downloaded script piped into a shell",
    ),
    ("shell:mkfs", r"\bmkfs(?:\.\w+)?\b", "filesystem format (mkfs)"),
    ("shell:dd-device", r"\bdd\b[^\n]*\bof=/dev/", "raw write to a device (dd of=/dev/...)"),
    ("shell:fork-bomb", r": ?\( ?\) ?\{ ?: ?\| ?: ?& ?\} ?; ?:", "fork bomb"),
    # Code execution from inside arguments (e.g. a tool call carrying code).
    (
        "code:os-system",
        r"\bos\.(?:system|exec[lv]p?e?|spawn[lv]p?e?|posix_spawnp?) ?\(|\bsystem\(",
        "process execution via os.system / exec*",
    ),
    ("code:exec", r"\bexec ?\(", "dynamic code execution: exec()"),
    ("code:eval", r"\beval ?\(", "dynamic code evaluation: eval()"),
    (
        "code:subprocess",
        r"\bsubprocess\.\w|\b(?:import|from) subprocess\b",
        "process execution via subprocess",
    ),
    ("code:popen", r"\bpopen\d? ?\(|\bos\.popen\b", "process execution via popen"),
    ("code:dunder-import", r"__import__ ?\(", "dynamic import via __import__"),
    (
        "code:recursive-delete",
        r"\bshutil\.rmtree ?\(|\.(?:rm|rmdir)(?:sync)? ?\([^)]*\brecursive\b",
        "recursive delete from code (shutil.rmtree, fs.rm recursive)",
    ),
    (
        "code:child-process",
        r"\brequire ?\( ?child_process ?\)|\bchild_process\.\w|getruntime ?\( ?\) ?\. ?exec\b",
        "process execution via child_process / Runtime.exec",
    ),
    # Secret exposure.
    (
        "secret:aws-access-key",
        r"\b(?:akia|asia|agpa|aida|aroa|aipa|anpa|anva|apka)[0-9a-z]{16}\b",
        "AWS access key id",
    ),
    (
        "secret:aws-secret-key",
        r"\baws_?secret_?(?:access_?)?key ?[:=] ?[a-z0-9/+]{40}\b",
        "AWS secret access key",
    ),
    (
        "secret:github-token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[a-z0-9]{36}\b|\bgithub_pat_[a-z0-9_]{22,}",
        "GitHub token",
    ),
    ("secret:slack-token", r"\bxox[abpr]-[a-z0-9-]{10,}", "Slack token"),
    (
        "secret:openai-key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[a-z0-9]{20,}",
        "OpenAI-style API key",
    ),
    (
        "secret:jwt",
        r"\beyj[a-z0-9_-]{5,}\.eyj[a-z0-9_-]{5,}\.[a-z0-9_-]{5,}",
        "JSON Web Token",
    ),
    ("secret:private-key", r"-----begin (?:[a-z0-9]+ )*private key-----", "PEM private key"),
    (
        "secret:password",
        r"\b(?:\w*_)?(?:password|passwd|pwd|passphrase)\b ?[:=] ?[^\s,;]{3,}",
        "hard-coded password",
    ),
    (
        "secret:credential-file",
        r"/etc/shadow\b|\.ssh/id_(?:rsa|dsa|ecdsa|ed25519)\b|\.aws/credentials\b",
        "credential file access",
    ),
)
