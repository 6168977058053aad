"""What the diagnostic tools share: the Finding they report and the tables they print."""

import shutil
import textwrap
from dataclasses import dataclass

SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class Finding:
    """One thing a diagnostic tool noticed.

    Attributes
    ----------
    code : str
        A stable identifier such as ``"inputs-not-scaled"``, for programs and tests.
    severity : {"info", "warning", "error"}
        ``warning`` and ``error`` mean the network will probably not train well.
    message : str
        What was measured, with the number.
    hint : str
        How to fix it (also available as ``fix``).
    where : str
        Which function or parameter of the learner's code it is about ("" when it is about
        the setup as a whole).
    """

    code: str
    severity: str
    message: str
    hint: str
    where: str = ""

    @property
    def fix(self):
        """How to fix it: the same text as ``hint``."""
        return self.hint


def _terminal_width():
    return max(72, min(120, shutil.get_terminal_size((100, 24)).columns))


def _table(headers, rows, wrap_column):
    """Rows of strings as aligned columns; the cell in wrap_column is wrapped to the width left.

    A cell may hold several paragraphs separated by newlines; each is wrapped on its own."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    indent = sum(w + 2 for w in widths[:wrap_column])
    room = max(30, _terminal_width() - indent)
    widths[wrap_column] = min(widths[wrap_column], room)
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    for row in rows:
        wrapped = []
        for paragraph in row[wrap_column].split("\n"):
            wrapped += textwrap.wrap(paragraph, room, subsequent_indent="  ") or [""]
        cells = list(row)
        cells[wrap_column] = wrapped[0]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        lines += [" " * indent + more for more in wrapped[1:]]
    return "\n".join(lines)


def _count(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def _describe_net(net):
    return (
        f"{type(net).__name__}({list(net.sizes)}, activation={net.activation!r}, "
        f"output={net.output!r}, loss={net.loss!r})"
    )


class FindingsReport:
    """A report made of findings: looked up by code, iterated, counted. ``findings`` is set by the
    subclass, already in report order."""

    findings = ()

    @property
    def codes(self):
        """The codes of the findings, in report order."""
        return [f.code for f in self.findings]

    def __getitem__(self, code):
        """The first finding with this code; KeyError when there is none."""
        for finding in self.findings:
            if finding.code == code:
                return finding
        raise KeyError(code)

    def __contains__(self, code):
        return code in self.codes

    def __iter__(self):
        return iter(self.findings)

    def __len__(self):
        return len(self.findings)
