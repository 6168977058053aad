"""MkDocs hooks for the docs build: every public name must reach the API reference.

The API pages choose what they show, so a name added to a module's ``__all__`` could be left out
without a word. After the build, each name exported by a module that has an API page must have
been rendered, under its own path or, for a re-export such as ``fastmlp.doctor``, under another
public path of the same object; a missing one is a warning, which fails ``mkdocs build --strict``.
"""

import logging
import os
import re

import griffe

log = logging.getLogger("mkdocs.hooks.api_coverage")

_ANCHOR = re.compile(r'id="(fastmlp(?:\.\w+)*)"')
_rendered = set()
_modules = set()


def on_pre_build(config):
    _rendered.clear()
    _modules.clear()


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri.startswith("api/"):
        _modules.update(re.findall(r"^::: (fastmlp(?:\.\w+)*)\s*$", markdown, flags=re.M))
    return markdown


def on_page_content(html, page, config, files):
    _rendered.update(_ANCHOR.findall(html))
    return html


def _lookup(package, path):
    """The object at a dotted path such as ``fastmlp.datasets.load_mnist``, its alias followed; or None."""
    try:
        obj = package[path.partition(".")[2]] if "." in path else package
        return obj.final_target if obj.is_alias else obj
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def on_post_build(config):
    root = os.path.dirname(os.path.abspath(config["config_file_path"]))
    package = griffe.load("fastmlp", search_paths=[root], resolve_aliases=True)
    rendered = {obj.path for obj in (_lookup(package, path) for path in _rendered) if obj is not None}
    modules = {"fastmlp"} | {path for path in _modules if getattr(_lookup(package, path), "is_module", False)}
    for module in sorted(modules):
        for name in _lookup(package, module).exports or ():
            path = f"{module}.{name}"
            target = _lookup(package, path)
            if path not in _rendered and (target is None or target.path not in rendered):
                log.warning(f"{path} is in {module}.__all__ but on no API page: add it to docs/api/")
