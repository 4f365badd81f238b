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
  every file excluded.

:func:`sends_dump` finds a pipeline from a database dump to a network client
(``pg_dumpall | curl -T -``): ``shell:exfiltration``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Sequence

from ._path import canonical_paths
from ._shell_ops import _opts, _positionals

__all__ = ["HOST_CHECKS", "hunts_keys", "judge_host", "sends_dump", "sync_deletes"]

#: Check id -> reason.
HOST_CHECKS: dict[str, str] = {
    "shell:service-stop": "service stopped, disabled or killed (takes it down on the host)",
    "shell:credential-store": "secrets read from a credential store (keychain, SAM, vaults)",
    "shell:credential-search": "filesystem searched for private keys or credential files",
    "shell:sync-delete": "directory emptied by rsync --delete (empty source or system target)",
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
    "vault": frozenset({("kv", "get"), ("read",)}),
    "op": frozenset({("read",)}),
    "bw": frozenset({("get", "password"), ("get", "item")}),
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
        return _kills_daemon(args)
    downs = _SERVICE_DOWN.get(name)
    if downs is None:
        return False
    words = [w.lower() for w in _positionals(args, frozenset({"-n", "--namespace"}))]
    return bool(words) and words[0] in downs


def _kills_daemon(args: Sequence[str]) -> bool:
    targets: list[str] = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        lower = arg.lower()
        if lower in ("-s", "--signal"):
            if index + 1 < len(args) and args[index + 1].lower() in _GENTLE_SIGNALS:
                return False
            skip = True
        elif lower.startswith("-") and lower.lstrip("-") in _GENTLE_SIGNALS:
            return False
        elif lower in ("-u", "-g", "-t", "-p", "-P", "--user", "--group"):
            skip = True
        elif not lower.startswith("-"):
            targets.append(lower)
    return any(t.split()[0].rsplit("/", 1)[-1] in _DAEMONS for t in targets if t.strip())


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
        return words[:1] == ["get"] and not _K8S_SECRETS.isdisjoint(kinds) and shows
    if words[:1] == ["ssm"] and "--with-decryption" not in args:
        return False  # plain parameters are configuration
    reads = _SECRET_READS[name]
    return any(tuple(words[:n]) in reads for n in (1, 2, 3))


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


#: Clusters' and clouds' secret stores, and password-manager CLIs.
_MANAGERS = frozenset({"kubectl", "oc", "aws", "gcloud", "az", "vault", "op", "bw"})
_HOST_TOOLS = frozenset(
    {"systemctl", "service", "update-rc.d", "chkconfig", "rc-update", "nginx", "openresty",
     "pg_ctlcluster", "pkill", "killall", "security", "secret-tool", "kwallet-query", "reg",
     "reg.exe", "procdump", "procdump64", "rundll32", "rundll32.exe", *_SERVICE_DOWN, *_GREPS,
     *_LOCATES, *_MANAGERS}
)  # fmt: skip


def judge_host(name: str, args: Sequence[str], path: str = "") -> str | None:
    """The check id ``name args...`` breaks, or ``None``. ``name`` is the basename, lower case;
    ``path`` the executable as written (``/etc/init.d/nginx``)."""
    if path.startswith(("/etc/init.d/", "/etc/rc.d/")) and args[:1] in (["stop"], ["force-stop"]):
        return "shell:service-stop"
    if name not in _HOST_TOOLS:
        return None  # every rule below names its tool
    if _stops_service(name, args):
        return "shell:service-stop"
    if _reads_store(name, args):
        return "shell:credential-store"
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
