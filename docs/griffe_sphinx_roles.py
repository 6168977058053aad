"""A Griffe extension for the docs build: Sphinx roles in docstrings become cross-references.

numpydoc docstrings name other objects with Sphinx roles, such as :func:`doctor` or :data:`MIRRORS`.
mkdocstrings renders docstrings as Markdown, where such a role would show as it is written; this turns
each into a Markdown cross-reference, [`doctor`][fastmlp.diagnostics._doctor.doctor], to the object the
name means where the docstring is written. A name that means nothing there is a warning, and so fails
`mkdocs build --strict`; a reference to an object the API pages leave out fails it too (mkdocs-autorefs).
A paragraph ending in reST's "::" ends in ":", its indented block being a Markdown code block already.
"""

import re

import griffe

_LITERAL = re.compile(r"(?<=\S)::(?=\n\s*\n)")  # reST's "text::" before an indented literal block
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|data|exc|mod|obj|const):`(~?)([\w.]+)(\(\))?`")


def _resolve(obj, name):
    if name.startswith("fastmlp.") or name == "fastmlp":
        return name
    head, _, rest = name.partition(".")
    try:
        target = obj.resolve(head)
    except griffe.NameResolutionError:
        return None
    return f"{target}.{rest}" if rest else target


def _rewrite(obj):
    def replace(match):
        tilde, name, call = match.groups()
        target = _resolve(obj, name)
        if target is None:
            location = f"{obj.relative_filepath}:{obj.docstring.lineno}"
            griffe.logger.warning(f"{location}: {match.group(0)} names nothing in the scope of {obj.path}")
            return match.group(0)
        shown = name.rsplit(".", 1)[-1] if tilde else name
        return f"[`{shown}{call or ''}`][{target}]"

    obj.docstring.value = _LITERAL.sub(":", _ROLE.sub(replace, obj.docstring.value))


class SphinxRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring of the package once it is loaded."""

    def on_package(self, *, pkg, **kwargs):
        todo = [pkg]
        while todo:
            obj = todo.pop()
            if obj.docstring is not None:
                _rewrite(obj)
            todo.extend(member for member in obj.members.values() if not member.is_alias)
