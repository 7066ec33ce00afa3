"""YAML for untrusted input files: bounded, strict, YAML 1.2 numbers.

Every YAML file eie_sim reads (architecture configs, energy tables) goes through
:func:`load`, which differs from ``yaml.safe_load`` in four ways:

* **bounded**: a document is at most :data:`MAX_DEPTH` collections deep and expands to at most
  :data:`MAX_NODES` nodes *counting every alias at its full size*, so an alias bomb ("billion
  laughs") or a 10,000-level nesting is refused in time linear in the file, never expanded;
  a recursive alias (``&a [*a]``) is refused; composing stops at :data:`MAX_NODES` nodes, and
  libyaml's parser (C) is used where PyYAML has it, so even a 1 MiB file costs little;
* **duplicate keys are an error** (``safe_load`` keeps the last one silently);
* **numbers are YAML 1.2's**: ``1e3`` is a float (YAML 1.1 reads a string), ``2:4`` a string
  (YAML 1.1 reads the sexagesimal integer 124), and an integer with a leading zero (``010``,
  octal 8 in YAML 1.1, decimal 10 in YAML 1.2) is refused as ambiguous;
* errors are :class:`YamlError` with a one-line message and the line number.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

#: Collections nested deeper than this are refused.
MAX_DEPTH = 64
#: Nodes a document may expand to (aliases counted at their full size); a config has tens,
#: an energy table hundreds.
MAX_NODES = 20_000

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9]+$")


class YamlError(ValueError):
    """A document that is not valid, or not acceptable, YAML; ``str`` is one line."""


def _line(node_or_mark: Any) -> str:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    line = getattr(mark, "line", None)
    return f" at line {line + 1}" if line is not None else ""


_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Bounded:
    """What the loaders below add to PyYAML's safe loading: a depth bound while composing,
    duplicate-key refusal and YAML 1.2 integers (the expansion bound is checked by
    :func:`load` on the composed graph)."""

    _depth = 0
    _nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        # The composer recurses once per nesting level: bound it before Python's stack is;
        # and bound the nodes it makes (an alias counts once here, in full in load()).
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > MAX_NODES:
                raise YamlError(f"has more than {MAX_NODES} values"
                                f"{_line(self.peek_event())}; allowed: at most {MAX_NODES}")
            if self._depth > MAX_DEPTH:
                raise YamlError(f"is nested more than {MAX_DEPTH} levels deep"
                                f"{_line(self.peek_event())}; allowed: at most {MAX_DEPTH}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        if isinstance(node, MappingNode):
            seen: set = set()
            for key_node, _ in node.value:  # as written (before merge keys are flattened)
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # unhashable: the base class reports it
                if duplicate:
                    raise YamlError(f"has a duplicate key {_excerpt(key)}{_line(key_node)}; "
                                    "allowed: each key once")
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        text = self.construct_scalar(node)
        if _LEADING_ZERO.match(text):
            raise YamlError(f"has the ambiguous number {_excerpt(text)}{_line(node)} (a "
                            "leading zero is octal in YAML 1.1, decimal in YAML 1.2); allowed: "
                            f"{int(text)} or 0o{text.lstrip('+-').lstrip('0') or '0'}")
        if text.startswith("0o"):
            return int(text[2:], 8)
        return SafeConstructor.construct_yaml_int(self, node)


class BoundedLoader(_Bounded, yaml.SafeLoader):
    """``yaml.SafeLoader`` (pure Python) with the bounds of :class:`_Bounded`."""

    yaml_implicit_resolvers = {k: list(v) for k, v in _RESOLVERS.items()}


_LOADERS: list[type] = [BoundedLoader]
try:  # libyaml's event parser (C, ~10x faster on large files) under the same Python composer
    from yaml._yaml import CParser

    class CBoundedLoader(_Bounded, Composer, CParser, SafeConstructor, Resolver):
        """libyaml's parser feeding PyYAML's (bounded) composer, constructor and resolver."""

        yaml_implicit_resolvers = {k: list(v) for k, v in _RESOLVERS.items()}

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _LOADERS.insert(0, CBoundedLoader)
except ImportError:  # PyYAML without libyaml: the pure-Python loader
    CBoundedLoader = None  # type: ignore[assignment,misc]

for _loader in _LOADERS:
    for _first in "-+0123456789":
        _loader.add_implicit_resolver(_INT, _INT_RE, [_first])
    for _first in "-+0123456789.":
        _loader.add_implicit_resolver(_FLOAT, _FLOAT_RE, [_first])
    _loader.add_constructor(_INT, _loader.construct_yaml_int)
#: The loader :func:`load` uses: libyaml's parser where PyYAML has it.
LOADER = _LOADERS[0]


def _excerpt(value: Any) -> str:
    from eie_sim.limits import excerpt

    return excerpt(value)


def expanded_size(root: Node) -> int:
    """Nodes ``root`` expands to with every alias counted at full size, computed on the
    composed graph (shared nodes once each), iteratively; raises :class:`YamlError` above
    :data:`MAX_NODES`, deeper than :data:`MAX_DEPTH` after expansion, or on a cycle."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            children = _children(node)
            size[nid] = 1 + sum(size[id(c)] for c in children)
            depth[nid] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[nid] > MAX_NODES:
                raise YamlError(f"expands to more than {MAX_NODES} values{_line(node)} (aliases "
                                f"counted at full size); allowed: at most {MAX_NODES}")
            if depth[nid] > MAX_DEPTH + 1:
                raise YamlError(f"is nested more than {MAX_DEPTH} levels deep{_line(node)} "
                                f"(through aliases); allowed: at most {MAX_DEPTH}")
            continue
        if nid in size:
            continue
        if nid in on_path:
            raise YamlError(f"has a recursive alias{_line(node)}; allowed: aliases of complete "
                            "values")
        on_path.add(nid)
        stack.append((node, True))
        for child in _children(node):
            if id(child) not in size:
                stack.append((child, False))
    return size[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load(text: str) -> Any:
    """Parse one YAML document (see the module docstring); :class:`YamlError` if it is not
    valid or not acceptable. An empty document is None."""
    loader = None
    try:
        loader = LOADER(text)  # the reader refuses non-printable characters here
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node)
        return loader.construct_document(node)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        if "nesting depth" in str(err.problem):  # libyaml's own bound (1000 levels)
            raise YamlError(f"is nested more than {MAX_DEPTH} levels deep{_line(mark)}; "
                            f"allowed: at most {MAX_DEPTH}") from None
        raise YamlError(f"is not valid YAML{_line(mark)}") from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError):
        raise YamlError("is not valid YAML") from None
    finally:
        if loader is not None:
            loader.dispose()


__all__ = ["MAX_DEPTH", "MAX_NODES", "LOADER", "BoundedLoader", "CBoundedLoader", "YamlError",
           "ConstructorError", "load"]
