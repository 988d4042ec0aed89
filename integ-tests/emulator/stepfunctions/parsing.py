"""A state machine's definition is parsed once, not at every execution.

moto's interpreter runs its ANTLR parser over the definition at each StartExecution, a
tenth of a lifecycle test's time. The syntax tree of each definition (the 64 most recent)
is kept; every execution still gets evaluation components of its own, made from that tree
by a new preprocessor, as before. A definition that does not parse is refused as before.
"""

import functools

from antlr4 import CommonTokenStream, InputStream, ParserRuleContext
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
    SyntaxErrorListener,
)
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor


@functools.lru_cache(maxsize=64)
def _syntax_tree(definition: str) -> ParserRuleContext | tuple[str, ...]:
    """The definition's syntax tree, or its syntax errors."""
    errors = SyntaxErrorListener()
    parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
    parser.removeErrorListeners()
    parser.addErrorListener(errors)
    tree = parser.state_machine()
    return tuple(errors.errors) if errors.errors else tree


def _parse(definition: str) -> tuple[EvalComponent, ParserRuleContext]:
    tree = _syntax_tree(definition)
    if isinstance(tree, tuple):
        raise ASLParserException(errors=list(tree))
    return Preprocessor().visit(tree), tree


def install() -> None:
    AmazonStateLanguageParser.parse = staticmethod(_parse)  # type: ignore[method-assign]
