"""What a tool's name says it does: the words of the name against small vocabularies.

Names are split the way the catalogue spells them (``tool_key``: camelCase,
kebab-case and spaces become ``_``), and a glued word is split into known
words (``writefile`` -> write, file). A verb with a file object is a file
operation (``delete_file``, ``removeFolder``); a bare verb (``delete``) is
one only when the arguments carry a path; a file object without a verb
(``file_manager``) reads its operation argument (``{"action": "delete"}``).
A verb that destroys or stops what it names (``delete_project``,
``drop-database``, ``cancel_subscription``) on something that is not a file
is a deletion (or a modification) all the same.
Shell, code, SQL, HTTP, web-search and messaging words name their kinds; a
tool that posts text for people (``create_issue``, ``add_comment``) or hands
it to a model for text back (``summarize_text``, ``translate``) sends a
message: its text is prose.
"""

from __future__ import annotations

from ._catalogue import tool_key

__all__ = [
    "EDIT_KEYS",
    "OP_KEYS",
    "WRITE_KEYS",
    "Name",
    "name_words",
    "program_of",
    "verb_kinds",
]


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DELETE = _set("delete remove rm rmdir unlink erase destroy purge wipe trash del shred")
# Verbs that remove, stop or shelve only some objects (remove_background is image editing,
# stop_recording ends a capture): with one of these objects they do.
_REMOVE = _set("remove rm del")
_HALT = _set("stop kill archive")
# Verbs that destroy or stop what they name, whatever it is (delete_project, drop-database,
# r2_bucket_delete, cancel_subscription): without a file word these are not file
# operations, but they cannot be undone either.
_DESTROY = (_DELETE - _REMOVE - _set("rmdir unlink trash")) | _set("drop truncate terminate")
_STOP = _set("cancel pause suspend revoke shutdown deactivate decommission")
_RESOURCES = _set(
    "container containers volume volumes image images pod pods node nodes cluster clusters "
    "instance instances vm vms server servers service services deployment deployments stack "
    "stacks namespace namespaces bucket buckets database databases db table tables index "
    "indices collection collections repo repository repositories branch project projects "
    "workspace environment env channel channels page pages space site domain zone record "
    "records secret secrets key keys token tokens user users member members collaborator "
    "collaborators team teams org organization account webhook webhooks function functions "
    "queue topic topics snapshot snapshots backup backups release releases registry network"
)
# Verbs and objects of a permission change: who may do what (add_collaborator with admin,
# update_member_role to owner, a branch protection relaxed).
_GRANT = _set("add invite grant set update change assign promote edit modify remove")
_ACCESS = _set(
    "collaborator collaborators member members role roles permission permissions admin admins "
    "owner owners access acl policy policies protection"
)
_WRITE = _set("write save create make append put store touch mkdir makedirs overwrite dump new add")
_MODIFY = _set("edit modify patch update replace change chmod chown insert apply")
_MOVE = _set("move mv rename")
_COPY = _set("copy cp duplicate")
_READ = _set(
    "read cat get open load view show head tail list ls stat info describe tree find "
    "search grep glob exists check inspect preview lookup scan walk size du"
)
_FILE = _set(
    "file files dir dirs directory directories folder folders fs filesystem path paths disk editor"
)
_FILLER = _set("tool tools fn func function to a an the from in on my local safe")
_SHELL = _set(
    "shell bash sh zsh terminal cmd command commands powershell pwsh console subprocess cli"
)
# Operator CLIs: a tool named after one runs it (kubectl_delete, docker_run, terraform_apply).
# Whole words only: they are not used to split glued words ("dockerfile" is not docker + file).
_CLI = _set(
    "git kubectl docker podman helm terraform ansible aws gcloud gsutil az npm npx pip psql "
    "mysql ssh scp rsync systemctl crontab sudo"
)
_EXEC = _set("run exec execute executor runner eval evaluate interpret invoke spawn launch")
_CODE = _set(
    "python py code repl interpreter js javascript node nodejs typescript ruby julia "
    "notebook jupyter snippet cell"
)
_REPL = _set("repl interpreter jupyter notebook")
_SQL = _set(
    "sql tsql mysql postgres postgresql psql sqlite sqlite3 duckdb snowflake bigquery "
    "redshift clickhouse mssql"
)
_DB = _set("database db")
_HTTP = _set(
    "http https request requests curl wget fetch url urls webpage website webhook scrape "
    "scraper crawl crawler browse browser navigate download visit"
)
_WEB = _set(
    "web internet google bing duckduckgo ddg brave serper serp serpapi tavily searx "
    "searxng exa perplexity wikipedia wiki arxiv pubmed news scholar kagi"
)
_SEND = _set("send post reply notify forward")
_MESSAGE = _set(
    "email emails mail message messages msg sms slack chat tweet notification gmail dm "
    "teams discord telegram whatsapp"
)
# Text for people to read, published where they read it: an issue, a comment, a ticket.
_POSTED = _set(
    "issue issues comment comments ticket tickets discussion discussions thread threads card "
    "cards wiki"
)
_POST = _WRITE | _MODIFY | _SEND | _set("open comment reply")
# Text handed to a model that answers with text: a summary, a translation.
_TEXT_VERBS = _set(
    "summarize summarise summary summarization summarisation translate translation paraphrase "
    "rewrite proofread classify sentiment"
)
_VOCAB = (
    _DELETE | _DESTROY | _STOP | _HALT | _GRANT | _WRITE | _MODIFY | _MOVE | _COPY
    | _READ | _FILE | _SHELL | _EXEC | _CODE | _SQL | _DB | _HTTP | _WEB | _SEND | _MESSAGE
    | _POSTED | _TEXT_VERBS | {"query", "script"}
)  # fmt: skip
OP_KEYS = ("action", "operation", "op", "command", "mode")
EDIT_KEYS = _set("old_str new_str old_string new_string oldtext newtext edits patch diff")
WRITE_KEYS = _set("content contents file_text text data new_content")


def _segment(token: str) -> list[str]:
    """Split a glued token into vocabulary words (``writefile`` -> write, file), or keep it."""
    if token in _VOCAB or len(token) > 40:
        return [token]
    best: list[list[str] | None] = [[]] + [None] * len(token)
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - 12), end - 1):
            prefix = best[start]
            if prefix is not None and token[start:end] in _VOCAB:
                best[end] = [*prefix, token[start:end]]
                break
    found = best[len(token)]
    return found if found else [token]


def name_words(tool: str) -> frozenset[str]:
    out: list[str] = []
    for token in tool_key(tool).split("_"):
        if token:
            out.extend(_segment(token))
    return frozenset(out)


def verb_kinds(words: frozenset[str]) -> list[str]:
    kinds: list[str] = []
    if words & _DELETE:
        kinds.append("file_delete")
    if words & _MOVE:
        kinds += ["file_write", "file_delete"]
    if words & _COPY:
        kinds += ["file_read", "file_write"]
    if words & _WRITE:
        kinds.append("file_write")
    if words & _MODIFY:
        kinds.append("file_modify")
    if words & _READ and not kinds:
        kinds.append("file_read")
    return kinds


class Name:
    """What a tool's name says: kinds, and kinds that wait for a path or an op argument."""

    __slots__ = ("exec_verb", "if_path", "kinds", "op")

    def __init__(self, tool: str) -> None:
        words = name_words(tool)
        self.exec_verb = bool(words & _EXEC)
        self.if_path: tuple[str, ...] = ()
        self.op = False
        kinds: list[str] = []
        has_file = bool(words & _FILE)
        code = words & _CODE
        if (
            words & _SHELL
            or words & _CLI
            or words in ({"exec"}, {"execute"})
            or ("script" in words and self.exec_verb and not code)
        ):
            kinds.append("shell_exec")
        if code and (self.exec_verb or words & _REPL or len(words) == 1):
            kinds.append("code_exec")
        db = words & _DB
        if (
            words & _SQL
            or ("query" in words and (self.exec_verb or db))
            or (db and (self.exec_verb or not words - _DB - _FILLER - _READ))
        ):
            kinds.append("sql")
        if has_file:
            verbs = verb_kinds(words)
            kinds += verbs
            self.op = not verbs
        elif not words - _DELETE - _WRITE - _MODIFY - _MOVE - _COPY - _READ - _FILLER:
            self.if_path = tuple(verb_kinds(words))
        elif not kinds and not words & _READ:
            # A resource destroyed or stopped through an API (no command or SQL to read),
            # or who may act on it changed: what the annotation destructiveHint would say,
            # said by the name.
            if words & _DESTROY or (words & _REMOVE and words & _RESOURCES):
                kinds.append("file_delete")
            elif (
                words & _STOP
                or (words & _HALT and words & _RESOURCES)
                or (words & _GRANT and words & _ACCESS)
            ):
                kinds.append("file_modify")
        if words & _HTTP:
            kinds.append("http_request")
            if "download" in words:
                kinds.append("file_write")
        if not has_file and (words & _WEB or ("search" in words and not words & (_DB | _SQL))):
            kinds.append("web_search")
        if (
            (words & _SEND and words & _MESSAGE)
            or (words & _POST and words & _POSTED and not self.exec_verb)
            or (words & _TEXT_VERBS and not kinds and not self.exec_verb)
        ):
            # Its text is for people or a model to read: prose, not something run (a code
            # snippet in an issue's body is quoted; a field named ``code`` is still code).
            kinds.append("message_send")
        self.kinds = tuple(dict.fromkeys(kinds))


_PROGRAMS: dict[str, str] = {}
# A shell word that names an interpreter (git_bash runs bash, not git); "command" and
# "cli" only say the tool runs its program (run_gcloud_command).
_INTERPRETERS = _SHELL - _set("command commands cmd cli")
# Words of a CLI-named tool's name that are no subcommand of its program.
_NOT_SUBCOMMAND = _FILLER | _EXEC | _set("command commands cmd cli mcp generic server")


def program_of(tool: str) -> str:
    """The CLI a tool is named after with the rest of its name's words as the
    subcommand (``git``, ``kubectl_tool`` -> kubectl, ``kubectl_delete`` -> kubectl
    delete, ``list_helm_releases`` -> helm list releases), or ``""``.

    Its command fields hold that program's arguments (``{"command": "push
    --force"}`` is ``git push --force``); without one, its arguments are
    (``_read``). Cached; bounded.
    """
    found = _PROGRAMS.get(tool)
    if found is None:
        words = name_words(tool)
        cli = words & _CLI
        found = next(iter(cli)) if len(cli) == 1 and not words & _INTERPRETERS else ""
        if found:
            ordered = [w for t in tool_key(tool).split("_") if t for w in _segment(t)]
            rest = [w for w in ordered if w != found and w not in _NOT_SUBCOMMAND]
            found = " ".join(dict.fromkeys([found, *rest]))
        if len(_PROGRAMS) >= 4096:
            _PROGRAMS.clear()  # tool names come from agents: bound the memory they can take
        _PROGRAMS[tool] = found
    return found
