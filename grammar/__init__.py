"""The Dockerfile front end: text to syntax tree, and shell-word expansion. Pure, no I/O.

    parse(text) -> Dockerfile          grammar.parser (lines) + dockerfile.lark (each line)
    dump(tree) -> str                  BuildKit's AST dump format
    expand_word / expand_words         BuildKit's variable expansion and word splitting
    expand_heredoc                     the same for a heredoc body (quotes kept as written)

grammar imports neither builder nor runtime.
"""

from .ast import Directive, Dockerfile, Heredoc, Instruction, Warning
from .dump import dump, dump_instruction, read_dump, to_json
from .errors import DockerfileError, ShellWordError
from .heredoc import parse_heredoc
from .parser import parse
from .shell import Expansion, ShellLexer, expand_heredoc, expand_word, expand_words

__all__ = [
    "Directive",
    "Dockerfile",
    "DockerfileError",
    "Expansion",
    "Heredoc",
    "Instruction",
    "ShellLexer",
    "ShellWordError",
    "Warning",
    "dump",
    "dump_instruction",
    "expand_heredoc",
    "expand_word",
    "expand_words",
    "parse",
    "parse_heredoc",
    "read_dump",
    "to_json",
]
