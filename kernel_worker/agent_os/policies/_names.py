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
Shell, code, SQL, HTTP, web-search and messaging words name their kinds. A
tool named after an operator CLI runs it when the rest of its name is the
program's subcommand, exec verbs or fillers (``kubectl_get``,
``list_helm_releases``, ``call_aws``, ``ssh_exec``), not when the program only
qualifies reference material (``lookup_ssh_key``, ``search_aws_documentation``)
or the tool answers with text about it (``suggest_aws_commands``). A tool that
posts text for people (``create_issue``, ``add_comment``) or hands it to a
model for text back (``summarize_text``, ``translate``, ``review_code``,
``explain_code``) sends a message: its text is prose. A text verb beside one
that acts or runs (``review_and_apply_patch``, ``explain_and_run``) does not
make it so.
"""

from __future__ import annotations

from itertools import pairwise

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
_MODIFY = _set("edit modify patch update replace change chmod chown insert apply rewrite")
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
# Text handed to a model that answers with text: a summary, a translation, a review, an
# explanation, a suggestion. (Not "analyze" or "assess": a data analysis tool runs the query or
# code it is given, analyze_data {"query": "DELETE FROM orders"}.)
_TEXT_VERBS = _set(
    "summarize summarise summary summarization summarisation translate translation paraphrase "
    "rewrite proofread classify sentiment review reviewer explain explanation explainer "
    "critique suggest suggestions recommend recommendations"
)
# Verbs that act on what they name: one before a text verb, or after an "and", makes the name
# more than text back (write_summary, review_and_apply_patch).
_ACTS = _DELETE | _DESTROY | _STOP | _HALT | _GRANT | _WRITE | _MODIFY | _MOVE | _COPY
_AND = _set("and then plus also")
# A query or statement explained is run by the database (EXPLAIN ANALYZE): explain_query is SQL.
_STATEMENT = _set("query queries statement statements stmt")
# What an operator CLI's word may qualify that the program does not run: documentation, prices,
# regions, a key and its fingerprint (lookup_ssh_key, search_aws_documentation, get_aws_pricing).
_ABOUT = _set(
    "documentation docs doc reference references manual manuals guide guides tutorial tutorials "
    "pricing price prices cost costs region regions availability key keys fingerprint "
    "fingerprints"
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


def _ordered(tool: str) -> list[str]:
    """The words of a tool's name in order (``kubectl_get`` -> kubectl, get)."""
    return [word for token in tool_key(tool).split("_") if token for word in _segment(token)]


def _own(tool: str) -> list[str]:
    """The words of a tool's own name, after a server's namespace (``mcp__aws-api__suggest``,
    ``aws___recommend``, ``server.tool``), in order; all of them when there is none."""
    own = tool
    for sep in ("__", ".", "/", ":"):
        own = own.rsplit(sep, 1)[-1]
    return _ordered(own) if own != tool and own.strip("_") else _ordered(tool)


def name_words(tool: str) -> frozenset[str]:
    return frozenset(_ordered(tool))


# A shell word that names an interpreter (git_bash runs bash, not git); "command" and
# "cli" only say the tool runs its program (run_gcloud_command).
_INTERPRETERS = _SHELL - _set("command commands cmd cli")
# Words that name the program a tool runs: an operator CLI, an interpreter.
_PROGRAM = _CLI | _INTERPRETERS


def _answers_with_text(own: list[str], words: frozenset[str]) -> bool:
    """Whether the name says its text goes to a model that answers with text (``review_code``,
    ``suggest_aws_commands``, ``summarize``): a text verb is its verb, and no word says more.

    Not when it also runs something (an exec verb; a query or statement, which EXPLAIN
    ANALYZE runs), when a verb that acts or a program comes first in the tool's own name
    (``write_summary``; in ``git_review`` and ``kubectl_explain`` the text verb is the
    program's subcommand; ``mcp__aws-api__suggest_aws_commands`` is the server's namespace
    and then the tool's name), or when a verb after an "and" does more than read or answer
    (``review_and_apply_patch``). A text verb's object is no verb (``review_patch``,
    ``explain_code_change``). ``own``: the words of the tool's own name in order; ``words``:
    all the words of the name.
    """
    if not words & _TEXT_VERBS or words & (_EXEC | _STATEMENT):
        return False
    first = next((i for i, word in enumerate(own) if word in _TEXT_VERBS), None)
    if first is None or any(word in _ACTS or word in _PROGRAM for word in own[:first]):
        return False
    after = own[first + 1 :]
    return all(nxt in _TEXT_VERBS or nxt in _READ for word, nxt in pairwise(after) if word in _AND)


def _about(words: frozenset[str]) -> bool:
    """Whether the program a name holds only qualifies what the tool reads: its other words
    are read verbs and a documentation-like noun (``lookup_ssh_key``, ``read_aws_docs``)."""
    rest = words - _CLI - _SHELL - _FILLER
    return bool(rest & _ABOUT) and rest <= _ABOUT | _READ


def _runs_program(own: list[str], words: frozenset[str]) -> bool:
    """Whether a name holding a program's word (``kubectl``, ``ssh``, ``command``) runs it.

    It does when the rest of the name is the program's subcommand, exec verbs or fillers
    (``kubectl_get``, ``list_helm_releases``, ``call_aws``, ``ssh_exec``) or it is the program
    alone; not when the program qualifies reference material (:func:`_about`) or the tool
    answers with text about it (``suggest_aws_commands``, ``explain_kubectl_command``).
    """
    return bool(words & (_SHELL | _CLI)) and not (_about(words) or _answers_with_text(own, words))


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
        own = _own(tool)
        self.exec_verb = bool(words & _EXEC)
        self.if_path: tuple[str, ...] = ()
        self.op = False
        kinds: list[str] = []
        has_file = bool(words & _FILE)
        code = words & _CODE
        text = _answers_with_text(own, words)
        if (
            _runs_program(own, words)
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
        # A search of the web or a knowledge base: its text goes to a search engine. Not a
        # search that runs or changes something (run_search, search_and_replace).
        searches = "search" in words and not words & (_DB | _SQL | _EXEC | _ACTS)
        if not has_file and (words & _WEB or searches):
            kinds.append("web_search")
        if (
            (words & _SEND and words & _MESSAGE)
            or (words & _POST and words & _POSTED and not self.exec_verb)
            or (text and not kinds)
        ):
            # Its text is for people or a model to read: prose, not something run (a code
            # snippet in an issue's body is quoted; a field named ``code`` is still code).
            kinds.append("message_send")
        self.kinds = tuple(dict.fromkeys(kinds))


_PROGRAMS: dict[str, str] = {}
# Words of a CLI-named tool's name that are no subcommand of its program.
_NOT_SUBCOMMAND = _FILLER | _EXEC | _AND | _set("command commands cmd cli mcp generic server call")


def program_of(tool: str) -> str:
    """The CLI a tool is named after with the rest of its name's words as the
    subcommand (``git``, ``kubectl_tool`` -> kubectl, ``kubectl_delete`` -> kubectl
    delete, ``list_helm_releases`` -> helm list releases, ``call_aws`` -> aws), or
    ``""`` (also for a name that does not run it: ``lookup_ssh_key``).

    Its command fields hold that program's arguments (``{"command": "push
    --force"}`` is ``git push --force``); without one, its arguments are
    (``_read``). Cached; bounded.
    """
    found = _PROGRAMS.get(tool)
    if found is None:
        ordered = _ordered(tool)
        words = frozenset(ordered)
        cli = words & _CLI
        found = (
            next(iter(cli))
            if len(cli) == 1 and not words & _INTERPRETERS and _runs_program(_own(tool), words)
            else ""
        )
        if found:
            rest = [w for w in ordered if w != found and w not in _NOT_SUBCOMMAND]
            found = " ".join(dict.fromkeys([found, *rest]))
        if len(_PROGRAMS) >= 4096:
            _PROGRAMS.clear()  # tool names come from agents: bound the memory they can take
        _PROGRAMS[tool] = found
    return found
