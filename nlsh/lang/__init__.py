"""The command language: words, plans, parsing and canonical text."""

from nlsh.lang.errors import ParseError
from nlsh.lang.parser import CommandLookup, parse
from nlsh.lang.plan import Call, Chain, Glob, Lit, Pipeline, Plan, Redirect, Tilde, Var, Word
from nlsh.lang.signature import Param, Signature
from nlsh.lang.text import text
from nlsh.lang.values import Duration, Size

__all__ = ["Call", "Chain", "CommandLookup", "Duration", "Glob", "Lit", "Param", "ParseError",
           "Pipeline", "Plan", "Redirect", "Signature", "Size", "Tilde", "Var", "Word", "parse", "text"]
