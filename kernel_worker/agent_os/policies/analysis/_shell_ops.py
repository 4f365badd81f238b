"""Structural rules for operator tools, persistence and reverse shells, on resolved commands.

:func:`judge_operator` receives the real executable (after ``_shell`` has
unwrapped ``sudo``, ``sh -c``, variables and quoting) and its words, and names
the check the command breaks, if any. Each rule reads the command's own
grammar - subcommands, options, operands - not a regex over the line:

* ``shell:git-history`` - ``git push`` with ``--force`` / ``-f`` /
  ``--mirror`` / ``--delete`` / ``-d``, a ``+ref`` or ``:ref`` refspec, or
  ``--force-with-lease`` but to named branches of its own (a feature branch
  after a rebase); ``git filter-branch`` / ``filter-repo``; ``git reset
  --hard``; ``git clean`` with ``-f``;
* ``shell:cluster-delete`` - ``kubectl`` / ``oc`` ``delete``, ``drain``,
  ``scale --replicas=0``; ``helm uninstall`` / ``delete``;
* ``shell:infra-destroy`` - ``terraform`` / ``tofu`` ``destroy``, ``apply
  -destroy``, ``state rm``; ``pulumi destroy``; ``cdk destroy``;
* ``shell:cloud-delete`` - ``aws`` / ``gcloud`` / ``az`` / ``doctl`` commands
  that delete, terminate, remove or purge (``aws s3 rm --recursive``, ``s3
  rb``, ``ec2 terminate-instances``, ``gcloud projects delete``, ``az group
  delete``); ``shell:cloud-iam`` - access keys and policies created or attached,
  roles granted (``az role assignment create``, ``az ad sp create-for-rbac``),
  cluster-wide bindings (``kubectl create clusterrolebinding``, a ``rolebinding``
  to ``cluster-admin`` or a ``system:`` group, a cluster binding patched,
  edited or given subjects, ``oc adm policy add-cluster-role-to-user``);
* ``shell:container-escape`` - ``docker`` / ``podman`` ``run`` / ``create`` /
  ``exec`` with ``--privileged``, the host's root or Docker socket mounted,
  host PID / network / IPC namespaces, ``--cap-add`` of ``ALL`` /
  ``SYS_ADMIN``; ``shell:container-delete`` - ``system prune -a``,
  ``volume rm`` / ``prune``, ``rm -f``;
* ``shell:publish`` - ``npm`` / ``yarn`` / ``pnpm`` ``publish`` /
  ``unpublish``, ``twine upload``, ``cargo publish``, ``gem push``, ``poetry
  publish``, ``mvn deploy``, ``gradle publish``, ``nuget push``; images pushed
  (``docker`` / ``podman`` ``push``, ``buildx build --push``, ``helm push``);
  ``gh release create`` (not a draft) / ``upload``; ``gh repo delete``, ``gh
  release delete``;
* ``shell:data-store`` - ``redis-cli`` ``FLUSHALL`` / ``FLUSHDB``, the same
  given bare to a command tool, database clients whose inline statement is
  destructive (checked by the SQL analyser);
* ``shell:persistence`` - ``crontab`` installing a table, ``systemctl enable``,
  ``launchctl load`` / ``bootstrap``, ``schtasks /create``, ``reg add`` of a
  ``Run`` key, ``at``, ``useradd`` / ``usermod`` to uid 0 or an admin group,
  ``chpasswd``, setuid ``chmod``, root-equivalent ``setcap``, ``git config
  core.hooksPath``, ``sc create``; writes (redirects, ``tee``,
  ``cp``, ``copy``) to start-up and credential files, Windows Startup folders
  included;
* ``shell:reverse-shell`` - ``/dev/tcp`` / ``/dev/udp`` endpoints, ``nc`` /
  ``ncat`` / ``netcat`` with ``-e`` / ``-c`` / ``--exec`` / ``--sh-exec``,
  ``socat`` with ``exec:`` / ``system:``, ``telnet`` / ``openssl s_client``
  joined to a shell by pipes;
* ``shell:defence-off`` - ``iptables -F`` / ``-P ... ACCEPT``, ``ufw
  disable``, stopping or disabling a firewall or a security agent (auditd,
  falco, osquery, wazuh, falcon-sensor, clamd...), ``setenforce 0``; killing,
  removing or otherwise turning off an agent is a host rule (:mod:`._shell_host`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

__all__ = [
    "OPERATOR_CHECKS",
    "SECURITY_AGENTS",
    "WRITE_CHECKS",
    "data_target",
    "joins_remote_shell",
    "judge_operator",
    "persistence_target",
    "sends_environment",
]

#: Check id -> reason.
OPERATOR_CHECKS: dict[str, str] = {
    "shell:git-history": "git history rewritten or deleted (force push, reset --hard)",
    "shell:cluster-delete": "cluster resources deleted or scaled to zero (kubectl, helm)",
    "shell:infra-destroy": "infrastructure destroyed (terraform / pulumi / cdk destroy)",
    "shell:cloud-delete": "cloud resources deleted (aws, gcloud, az)",
    "shell:cloud-iam": "cloud credentials or privileges created (access keys, admin policies)",
    "shell:container-escape": "container given the host (privileged, host root, host namespaces)",
    "shell:container-delete": "containers, images or volumes deleted in bulk",
    "shell:publish": "package published or repository deleted",
    "shell:data-store": "data store flushed or dropped from a client",
    "shell:persistence": "persistence installed (cron, services, start-up files, users)",
    "shell:reverse-shell": "shell connected to a remote host (reverse or bind shell)",
    "shell:defence-off": "firewall or security control disabled",
    "shell:exfiltration": "environment or data sent out (env piped to a network client, DNS names)",
}

#: Check id -> reason, for file writes (any channel: a file tool, a typed write).
WRITE_CHECKS: dict[str, str] = {
    "path:persistence-write": "write to a start-up, scheduler or credential file (persistence)",
    "path:data-delete": "deletion of a system directory, a database's data, a repository's "
    "history, a backup, a security log or a shell history",
    "path:log-tamper": "security log or shell history overwritten or edited (hides what was done)",
}

_DELETE_VERB = re.compile(
    r"^(?:delete|terminate|remove|purge|destroy|deregister|rb|rm|disable-key|schedule-key-deletion)"
    r"(?:-|$)"
)
_IAM_VERB = re.compile(
    r"^(?:create-access-key|create-login-profile|attach-(?:user|role|group)-policy"
    r"|put-(?:user|role|group)-policy|add-iam-policy-binding|set-iam-policy|create-user"
    r"|create-policy-version|update-assume-role-policy|add-user-to-group)$"
)
_HOST_MOUNT = re.compile(
    r"^(?:/|/etc|/root|/var/run/docker\.sock|/run/docker\.sock|/proc|/sys)(?::|$)"
)
_HOST_CAPS = ("ALL", "SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH")
#: Security agents and loggers: stopping, killing or removing one turns a defence off.
SECURITY_AGENTS = frozenset(
    {"auditd", "audit", "falco", "falcond", "falco-modern-bpf", "falco-bpf", "falco-kmod",
     "osqueryd", "osquery", "wazuh-agent", "wazuh-agentd", "wazuh-modulesd", "wazuh-execd",
     "wazuh-logcollector", "wazuh-syscheckd", "ossec", "ossec-hids", "ossec-agentd",
     "ossec-syscheckd", "ossec-logcollector", "falcon-sensor", "falcon-sensor-bpf", "clamd",
     "clamav", "clamav-daemon", "clamav-freshclam", "freshclam", "apparmor", "auditbeat",
     "elastic-agent", "sentinelone", "sentinel-agent", "s1-agent", "mdatp", "wdavdaemon",
     "sysmon", "aide", "tripwire", "fail2ban", "fail2ban-server", "crowdsec", "suricata",
     "snort", "zeek", "rsyslog", "rsyslogd", "syslog-ng", "systemd-journald", "sysdig"}
)  # fmt: skip
_FIREWALLS = frozenset({"firewalld", "ufw", "iptables", "nftables", *SECURITY_AGENTS})
_ADMIN_GROUPS = frozenset({"sudo", "wheel", "admin", "root", "docker"})
#: Start-up, scheduler and credential files: writing one installs persistence.
_PERSIST = re.compile(
    r"(?:^|/)(?:\.bashrc|\.bash_profile|\.bash_login|\.profile|\.zshrc|\.zprofile|\.zshenv"
    r"|\.kshrc|\.cshrc|\.tcshrc|\.login|authorized_keys2?|\.xinitrc|\.xprofile)$"
    r"|^/etc/(?:crontab|cron\.(?:d|hourly|daily|weekly|monthly)|sudoers|profile|bash\.bashrc"
    r"|profile\.d|rc\.local|ld\.so\.preload|systemd/|init\.d/|passwd|shadow|group|environment|hosts$)"
    r"|/\.config/(?:systemd|autostart)/|/Library/Launch(?:Agents|Daemons)/|/\.git/hooks/"
    r"|^\.git/hooks/|/var/spool/cron/|/etc/update-motd\.d/|powershell_profile\.ps1$"
    r"|/\.config/fish/config\.fish$|/\.ssh/(?:config|rc)$|/security/pam_[^/]*\.so$|^/etc/pam\.d/"
    r"|/start menu/programs/startup(?:/|$)|^/(?:etc|usr/share)/polkit-1/rules\.d/",
    re.IGNORECASE,
)
# Backslashes may be gone after shell quote removal (HKCU\\...\\Run -> HKCU...Run).
_ZERO_REPLICAS = re.compile(r"replicas\W{0,3}:\W{0,3}0\b")
_PAAS = frozenset({"heroku", "firebase", "vercel", "netlify", "fly", "flyctl", "railway",
                   "supabase", "wrangler", "render", "doctl"})  # fmt: skip
_PAAS_DELETE = re.compile(r"(?:^|[:_-])(?:destroy|delete|remove|rm|purge|wipe)(?:$|[:_-])")
_RUN_KEYS = ("\\run", "currentversionrun", "winlogon", "image file execution")
_MONGO_DROP = re.compile(r"drop(?:Database)?\s*\(|deleteMany\s*\(\s*\{\s*\}")
_SYSTEM_DIRS = frozenset(
    {"/bin", "/boot", "/etc", "/lib", "/lib64", "/sbin", "/usr", "/usr/lib", "/usr/bin", "/var",
     "/var/lib", "/opt", "/root", "/home", "/srv", "~"}
)  # fmt: skip
_SHELL_NAMES = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "cmd", "powershell"})


# What a deletion must not take: a database's or container runtime's data directory, a
# repository's history (.git itself, its objects and refs; not .git/index.lock), backups.
_DATA_DIRS = frozenset(
    {"mysql", "mariadb", "postgresql", "pgsql", "mongodb", "redis", "docker", "containerd",
     "etcd", "elasticsearch", "opensearch", "cassandra", "clickhouse", "influxdb", "rabbitmq",
     "kafka", "zookeeper"}
)  # fmt: skip
_BACKUP_DIRS = frozenset({"backup", "backups", "snapshots"})


def data_target(path: str) -> bool:
    """True for what deleting loses for good: ``/``, a system directory itself, a
    database's data directory, a repository's history, a backup (``path:data-delete``).
    String tests only: a path may be kilobytes long."""
    path = path.replace("\\", "/").lower()
    trimmed = path.rstrip("/") or "/"
    if trimmed == "/" or trimmed in _SYSTEM_DIRS:
        return True
    if path.startswith("/var/lib/") and path[9:].split("/", 1)[0] in _DATA_DIRS:
        return True
    if ".git" in path:
        git = "/" + trimmed if not trimmed.startswith("/") else trimmed
        if git.endswith("/.git") or "/.git/objects" in git or "/.git/refs" in git:
            return True
    if "backup" in path or "snapshots" in path:
        return any(part in _BACKUP_DIRS for part in trimmed.split("/"))
    return False


def persistence_target(path: str) -> bool:
    """True for start-up, scheduler and credential files (``~/.bashrc``, ``/etc/cron.d/x``)."""
    return _PERSIST.search(path.replace("\\", "/")) is not None


def _opts(args: Sequence[str]) -> set[str]:
    out = set()
    for arg in args:
        if arg.startswith("--"):
            out.add(arg.split("=", 1)[0])
        elif arg.startswith("-") and len(arg) > 1:
            out.add(arg)
            out.update(f"-{ch}" for ch in arg[1:] if ch.isalpha())
    return out


def _positionals(args: Sequence[str], with_value: frozenset[str] = frozenset()) -> list[str]:
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            skip = arg in with_value
            continue
        out.append(arg)
    return out


_GLOBAL_VALUES = frozenset(
    {"-n", "--namespace", "--context", "--kubeconfig", "-C", "--git-dir", "--work-tree", "-c",
     "--profile", "--region", "--project", "--subscription", "-s", "--cluster", "--chdir",
     "--output", "-o", "--zone", "--resource-group", "-g"}
)  # fmt: skip


def _git(args: Sequence[str]) -> bool:
    words = _positionals(args, _GLOBAL_VALUES)
    if not words:
        return False
    sub = words[0]
    opts = _opts(args)
    if sub == "push":
        if opts & {"--force", "-f", "--mirror", "--delete", "-d", "--prune"}:
            return True
        refs = words[2:]
        if any(o.split("=")[0] == "--force-with-lease" for o in opts) and not _own_branches(refs):
            return True
        return any(w.startswith(("+", ":")) and len(w) > 1 for w in refs)
    if sub in ("filter-branch", "filter-repo", "replace"):
        return True
    if sub == "reset":
        return "--hard" in opts
    if sub == "clean":
        return "-f" in opts or "--force" in opts
    if sub == "branch":
        return "-D" in args or ("--delete" in opts and "--force" in opts)
    return sub == "update-ref" and "-d" in opts


#: Branches a team shares: a forced push to one rewrites everyone's history.
_SHARED_BRANCHES = frozenset(
    {"main", "master", "trunk", "develop", "development", "dev", "prod", "production",
     "stable", "staging", "live", "gh-pages", "head"}
)  # fmt: skip


def _own_branches(refs: Sequence[str]) -> bool:
    """Whether a ``git push --force-with-lease`` names only branches of its own: each refspec
    given, none a shared or release branch (``feature/refactor-parser``). The lease makes it
    fail when someone else pushed; without a refspec the branch is unknown."""
    if not refs:
        return False
    for ref in refs:
        target = ref.lstrip("+").rsplit(":", 1)[-1].removeprefix("refs/heads/").lower()
        if not target or target in _SHARED_BRANCHES or target.startswith(("release", "hotfix")):
            return False
    return True


#: Roles whose binding hands over a cluster or a namespace, and groups no binding may name.
_K8S_ADMIN_ROLES = frozenset({"cluster-admin"})
_K8S_WIDE_GROUPS = frozenset(
    {"system:masters", "system:anonymous", "system:unauthenticated", "system:authenticated"}
)
_K8S_ROLE_VALUES = frozenset({"--clusterrole", "--role", "--group", "--user", "--serviceaccount",
                              "--verb", "--resource"})  # fmt: skip
_OC_ESCALATING_SCCS = frozenset({"privileged", "anyuid", "hostaccess", "hostmount-anyuid"})


def _option_values(args: Sequence[str], option: str) -> list[str]:
    """Every value of ``option``, given as ``--opt VALUE`` or ``--opt=VALUE`` (lists split)."""
    prefix = option + "="
    values = [b for a, b in itertools.pairwise(args) if a == option]
    values += [a[len(prefix) :] for a in args if a.startswith(prefix)]
    return [v for value in values for v in value.split(",")]


def _grants_cluster(name: str, words: Sequence[str], args: Sequence[str]) -> bool:
    """A cluster-wide or admin role bound (``kubectl create clusterrolebinding``, ``oc adm policy
    add-cluster-role-to-user``), or a role that may do everything created."""
    if name == "oc" and words[:2] == ["adm", "policy"] and len(words) > 3:
        verb, role = words[2], words[3]
        if verb.startswith(("add-cluster-role-to-", "add-scc-to-")):
            return not verb.startswith("add-scc-") or role in _OC_ESCALATING_SCCS
        return verb.startswith("add-role-to-") and role in ("admin", *_K8S_ADMIN_ROLES)
    if words[:2] in (["patch", "clusterrolebinding"], ["edit", "clusterrolebinding"]) or (
        words[:3] == ["set", "subject", "clusterrolebinding"]
    ):
        return True  # subjects added to a cluster-wide binding
    if words[:1] != ["create"] or len(words) < 2:
        return False
    kind = words[1]
    if kind == "clusterrolebinding":
        return True
    if kind == "rolebinding":
        roles = _option_values(args, "--clusterrole") + _option_values(args, "--role")
        groups = _option_values(args, "--group")
        return not _K8S_ADMIN_ROLES.isdisjoint(roles) or not _K8S_WIDE_GROUPS.isdisjoint(groups)
    if kind in ("clusterrole", "role"):
        return "*" in _option_values(args, "--verb") and "*" in _option_values(args, "--resource")
    return False


def _cluster(name: str, args: Sequence[str]) -> str | None:
    words = _positionals(args, _GLOBAL_VALUES | _K8S_ROLE_VALUES)
    if not words:
        return None
    if name == "helm":
        if words[0] == "push":
            return "shell:publish"
        return "shell:cluster-delete" if words[0] in ("uninstall", "delete", "del", "un") else None
    if _grants_cluster(name, words, args):
        return "shell:cloud-iam"
    return "shell:cluster-delete" if _kubectl(args) else None


def _kubectl(args: Sequence[str]) -> bool:
    words = _positionals(args, _GLOBAL_VALUES)
    if not words:
        return False
    if words[0] in ("delete", "drain", "replace") or (words[0] == "apply" and "--prune" in args):
        return True
    if words[0] == "patch" and _ZERO_REPLICAS.search(" ".join(args)):
        return True
    if words[0] == "scale":
        return any(a in ("--replicas=0", "--replicas") for a in args) and (
            "--replicas=0" in args or "0" in args
        )
    return False


def _iac(name: str, args: Sequence[str]) -> bool:
    words = _positionals(args, _GLOBAL_VALUES)
    if not words:
        return False
    if words[0] == "destroy":
        return True
    if name in ("terraform", "tofu", "terragrunt"):
        if words[0] == "apply" and "-destroy" in args:
            return True
        return words[0] == "state" and len(words) > 1 and words[1] in ("rm", "replace-provider")
    return False


#: ``az`` commands that grant a role or create credentials (the leading words).
_AZ_GRANTS = frozenset(
    {("role", "assignment", "create"), ("ad", "sp", "create-for-rbac"),
     ("ad", "sp", "credential", "reset"), ("ad", "app", "credential", "reset"),
     ("ad", "user", "create"), ("ad", "group", "member", "add")}
)  # fmt: skip


def _cloud(name: str, args: Sequence[str]) -> str | None:
    words = _positionals(args, _GLOBAL_VALUES)
    if name == "az" and any(tuple(words[:n]) in _AZ_GRANTS for n in (3, 4)):
        return "shell:cloud-iam"
    for word in words[:4]:
        if _IAM_VERB.match(word):
            return "shell:cloud-iam"
        if _DELETE_VERB.match(word):
            return "shell:cloud-delete"
    if (
        len(words) >= 2
        and words[0] == "s3"
        and (words[1] in ("rm", "rb") or (words[1] == "sync" and "--delete" in args))
    ):
        return "shell:cloud-delete"
    return None


def _docker(args: Sequence[str]) -> str | None:
    words = _positionals(
        args,
        frozenset(
            {
                "-v",
                "--volume",
                "-e",
                "--env",
                "--name",
                "-p",
                "-w",
                "--mount",
                "--network",
                "--net",
                "-u",
                "--user",
                "-H",  # global: the daemon, context and client settings
                "--host",
                "--context",
                "-c",
                "--config",
                "-l",
                "--log-level",
            }
        ),
    )
    if not words:
        return None
    sub = words[0]
    if sub in ("run", "create", "exec", "container"):
        for index, arg in enumerate(args):
            value = arg.split("=", 1)[1] if "=" in arg else ""
            nxt = args[index + 1] if index + 1 < len(args) else ""
            if arg == "--privileged" or arg.startswith("--privileged="):
                return "shell:container-escape"
            if (
                arg in ("--pid", "--net", "--network", "--ipc", "--userns", "--uts")
                and nxt == "host"
            ):
                return "shell:container-escape"
            if value == "host" and arg.split("=")[0] in ("--pid", "--net", "--network", "--ipc"):
                return "shell:container-escape"
            mount = nxt if arg in ("-v", "--volume") else ""
            if arg.startswith("-v") and len(arg) > 2:
                mount = arg[2:]
            elif arg.startswith("--volume="):
                mount = value
            if mount and _HOST_MOUNT.match(mount):
                return "shell:container-escape"
            caps = (value or nxt).upper()
            if arg.startswith("--cap-add") and any(c in caps for c in _HOST_CAPS):
                return "shell:container-escape"
            if "docker.sock" in arg:
                return "shell:container-escape"
    if sub == "push" or (sub in ("image", "manifest") and "push" in words[1:2]):
        return "shell:publish"
    if sub == "compose" and "push" in words[1:]:  # docker compose -f prod.yml push
        return "shell:publish"
    if sub in ("buildx", "build", "compose") and (
        "--push" in args or any("type=registry" in a for a in args)
    ):
        return "shell:publish"
    if sub == "system" and len(words) > 1 and words[1] == "prune":
        return "shell:container-delete"
    if (
        sub in ("volume", "image", "network", "container")
        and len(words) > 1
        and words[1] in ("rm", "prune")
        # Dangling images (no tag, no container) are a build's leftovers: pruning them is
        # cleanup; -a removes every unused image.
        and not (sub == "image" and words[1] == "prune" and not _opts(args) & {"-a", "--all"})
    ):
        return "shell:container-delete"
    if sub in ("rm", "rmi") and _opts(args) & {"-f", "--force"}:
        return "shell:container-delete"
    return None


_PUBLISH = {
    "npm": ("publish", "unpublish", "deprecate"),
    "yarn": ("publish", "npm"),
    "pnpm": ("publish",),
    "twine": ("upload",),
    "cargo": ("publish", "yank"),
    "gem": ("push", "yank"),
    "poetry": ("publish",),
    "flit": ("publish",),
    "hatch": ("publish",),
    "uv": ("publish",),
    "nuget": ("push",),
    "vsce": ("publish",),
    "ovsx": ("publish",),
    "anaconda": ("upload",),
    "buildah": ("push",),
    "crane": ("push",),
    "oras": ("push",),
}


def _gh(args: Sequence[str]) -> bool:
    words = _positionals(args, frozenset({"-R", "--repo", "-X", "--method", "-f", "-F"}))
    if words[:1] == ["api"]:  # gh api -X DELETE repos/...
        methods = [b for a, b in itertools.pairwise(args) if a in ("-X", "--method")]
        return any(m.upper() == "DELETE" for m in methods) or "--method=DELETE" in args
    if words[:2] == ["release", "upload"]:
        return True
    if words[:2] == ["release", "create"]:  # a draft is not published
        return not any(a in ("-d", "--draft") or a.startswith("--draft=t") for a in args)
    return (
        len(words) >= 2
        and words[0] in ("repo", "release", "secret", "variable", "ruleset")
        and (words[1] in ("delete", "archive", "rename", "set"))
    )


def _builds_publish(name: str, args: Sequence[str]) -> bool:
    """``mvn deploy``, ``gradle publish``, ``dotnet nuget push``: a build that publishes."""
    words = _positionals(args, frozenset({"-f", "--file", "-s", "--settings", "-P", "-pl", "-D"}))
    if name in ("mvn", "mvnw"):
        return any(w == "deploy" or w.startswith("deploy:deploy") for w in words)
    if name in ("gradle", "gradlew"):
        tasks = [w.rsplit(":", 1)[-1] for w in words]
        return any(t.startswith("publish") and not t.endswith("MavenLocal") for t in tasks)
    return words[:2] == ["nuget", "push"]  # dotnet


def _netcat(args: Sequence[str]) -> bool:
    opts = _opts(args)
    if opts & {"-e", "-c", "--exec", "--sh-exec", "--lua-exec"}:
        return True
    return any(a.startswith(("--exec=", "--sh-exec=")) for a in args)


_PERSISTERS = frozenset(
    {"crontab", "systemctl", "launchctl", "schtasks", "reg", "at", "batch", "useradd", "adduser",
     "usermod", "chpasswd", "passwd", "visudo", "chattr", "chmod", "sc", "sc.exe", "setcap",
     "git"}
)  # fmt: skip
#: File capabilities that make a program root in all but name (``setcap cap_setuid+ep python3``).
_ROOT_CAPS = re.compile(
    r"cap_(?:setuid|setgid|sys_admin|sys_ptrace|sys_module|dac_override|dac_read_search"
    r"|chown|fowner|sys_rawio)|^all\b|=ep$",
    re.IGNORECASE,
)


def _persists(name: str, args: Sequence[str]) -> bool:
    if name not in _PERSISTERS:
        return False  # every rule below names its tool
    words = _positionals(args)
    opts = _opts(args)
    if name == "crontab":
        return "-l" not in opts  # installing (a file or stdin) or removing the table
    if name == "systemctl":
        return any(w in ("enable", "link", "preset", "set-default") for w in words)
    if name == "launchctl":
        return any(w in ("load", "bootstrap", "submit", "enable") for w in words)
    if name == "schtasks":
        return any(a.lower() in ("/create", "/change") for a in args)
    if name in ("sc", "sc.exe"):  # a service installed, or its program replaced
        verb = words[0].lower() if words else ""
        return verb == "create" or (verb == "config" and "binpath=" in " ".join(args).lower())
    if name == "reg":
        joined = " ".join(args).lower()
        return bool(words) and words[0].lower() == "add" and any(k in joined for k in _RUN_KEYS)
    if name in ("at", "batch"):
        return "-l" not in opts
    if name in ("useradd", "adduser", "usermod"):
        if "-o" in opts or any(a in ("0",) for a in args):
            return True
        groups = [
            args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-G", "-g", "--groups", "-aG")
        ]
        return any(g in _ADMIN_GROUPS for grp in groups for g in grp.split(","))
    if name in ("chpasswd", "passwd", "visudo"):
        return True
    if name == "chattr":
        return any(a.startswith("+") and ("i" in a or "a" in a) for a in args)
    if name == "chmod":
        return any(re.fullmatch(r"[ugoa]*\+[rwx]*s[rwx]*|[4-7][0-7]{3}", a) for a in words[:1])
    if name == "setcap":
        return "-r" not in opts and any(_ROOT_CAPS.search(w) for w in words[:1])
    if name == "git":
        # Hooks from a directory outside the repository (or for every repository) run at
        # every commit, checkout and push; a repository's own (.husky, .githooks) do not.
        if len(words) < 3 or words[0] != "config" or words[1].lower() != "core.hookspath":
            return False
        where = words[2]
        return (
            bool(opts & {"--global", "--system"})
            or where.startswith(("/", "~", "$"))
            or (".." in where.replace("\\", "/").split("/"))
        )
    return False


def _defence(name: str, args: Sequence[str]) -> bool:
    if name in ("iptables", "ip6tables", "nft"):
        return (
            bool(_opts(args) & {"-F", "--flush", "-X"})
            or ("-P" in args and "ACCEPT" in args)
            or (name == "nft" and "flush" in args)
        )
    if name == "ufw":
        return "disable" in args or "reset" in args
    if name == "setenforce":
        return "0" in args or "permissive" in [a.lower() for a in args]
    if name in ("systemctl", "service"):
        return any(w in ("stop", "disable", "mask") for w in args) and any(
            a.removesuffix(".service") in _FIREWALLS for a in args
        )
    return False


def _truncates(args: Sequence[str]) -> bool:
    """``truncate -s 0`` of something that is not a log or a temporary file."""
    zero = any(a in ("-s0", "--size=0") for a in args) or any(
        a == "-s" and b == "0" for a, b in itertools.pairwise(args)
    )
    targets = _positionals(args, frozenset({"-s", "--size", "-r", "--reference"}))
    keep = ("/tmp/", "/var/log/")
    return zero and any(not t.startswith(keep) and not t.endswith(".log") for t in targets)


def judge_operator(name: str, args: Sequence[str]) -> str | None:
    """The check id ``name args...`` breaks, or ``None``. ``name`` is the basename, lower case."""
    if name == "git":
        if _git(args):
            return "shell:git-history"
        return "shell:persistence" if _persists(name, args) else None
    if name in ("kubectl", "oc", "helm", "k"):
        return _cluster(name, args)
    if name in ("terraform", "tofu", "terragrunt", "pulumi", "cdk", "cdktf"):
        return "shell:infra-destroy" if _iac(name, args) else None
    if name in ("aws", "gcloud", "az", "doctl", "gsutil", "linode-cli", "hcloud"):
        if name == "gsutil" and _positionals(args)[:1] in (["rm"], ["rb"]):
            return "shell:cloud-delete"
        return _cloud(name, args)
    if name in _PAAS:
        words = _positionals(args, frozenset({"--app", "-a", "--project", "-p", "--scope"}))
        return "shell:cloud-delete" if any(_PAAS_DELETE.search(w) for w in words[:2]) else None
    if name in ("docker", "podman", "nerdctl"):
        return _docker(args)
    if name == "truncate":
        return "shell:disk-wipe" if _truncates(args) else None
    if name == "mv":
        moved = _positionals(args, frozenset({"-t", "--target-directory", "-S", "--suffix"}))[:-1]
        return "shell:rm-root" if any(m.rstrip("/") in _SYSTEM_DIRS for m in moved) else None
    if name in ("mongo", "mongosh"):
        return "shell:data-store" if _MONGO_DROP.search(" ".join(args)) else None
    if name in _PUBLISH:
        words = _positionals(args)
        return "shell:publish" if words and words[0] in _PUBLISH[name] else None
    if name == "gh":
        return "shell:publish" if _gh(args) else None
    if name in ("mvn", "mvnw", "gradle", "gradlew", "dotnet"):
        return "shell:publish" if _builds_publish(name, args) else None
    if name in ("flushall", "flushdb"):  # a Redis command given bare to a command tool
        return "shell:data-store"
    if name in ("redis-cli", "valkey-cli", "keydb-cli"):
        upper = {a.upper() for a in args}
        return "shell:data-store" if upper & {"FLUSHALL", "FLUSHDB", "SHUTDOWN", "CONFIG"} else None
    if name in ("nc", "ncat", "netcat", "nc.traditional", "nc.openbsd"):
        return "shell:reverse-shell" if _netcat(args) else None
    if name == "socat":
        joined = " ".join(args).lower()
        return "shell:reverse-shell" if ("exec:" in joined or "system:" in joined) else None
    if _defence(name, args):
        return "shell:defence-off"
    if _persists(name, args):
        return "shell:persistence"
    return None


def joins_remote_shell(names: Sequence[str]) -> bool:
    """A pipeline that joins a network client and a shell (``telnet h p | sh | telnet h q``)."""
    clients = {"telnet", "nc", "ncat", "netcat", "openssl", "socat", "curl", "wget"}
    return bool(clients & set(names)) and bool(_SHELL_NAMES & set(names))


def sends_environment(names: Sequence[str]) -> bool:
    """A pipeline that feeds the process environment to a network client (``env | curl -d @-``)."""
    sources = {"env", "printenv", "set", "export"}
    clients = {"curl", "wget", "nc", "ncat", "netcat", "socat", "ssh", "telnet", "openssl"}
    return bool(sources & set(names)) and bool(clients & set(names))
