"""Why ``import fastmlp`` found no compiled extension, in words a newcomer can act on.

Run from a clone of the repository after ``pip install .``, Python imports the source folder's
``fastmlp`` (the current folder comes first on ``sys.path``), which has no compiled code: without
this, the failure reads as a circular import. NumPy says the same in the same case.
"""

import importlib.machinery
from pathlib import Path


def missing_extension(exc):
    """The message for the ImportError `exc` raised importing fastmlp._kernels."""
    package = Path(__file__).resolve().parent
    built = [
        path for path in package.glob("_kernels*") if path.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    ]
    if built:  # there but not loadable (another Python, a broken build): its own message says why
        return f"Error importing fastmlp's compiled extension {built[0]}: {exc}"
    if (package.parent / "setup.py").is_file():
        return (
            f"Error importing fastmlp: you are importing it from its source folder ({package.parent}), "
            "which holds no compiled code; run Python from another folder to use the installed fastmlp, "
            "or build it in place with pip install -e ."
        )
    return f"Error importing fastmlp: its compiled extension is missing from {package}; reinstall fastmlp ({exc})"
