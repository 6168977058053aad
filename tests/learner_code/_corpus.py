"""The corpus' glue: a bug as a change of names in a learner's file, and the program it makes."""
import types


class Bug:
    """A buggy program: the learner's file with ``replace``'s names bound to other functions or values.

    ``code`` is the finding fastmlp.diagnose must list first; ``description`` says what the learner
    wrote.
    """

    def __init__(self, code, description, **replace):
        self.code = code
        self.description = description
        self.replace = replace

    def __repr__(self):
        return f"Bug({self.code!r}, {self.description!r})"


def program(module, bug=None):
    """``(make, kwargs)``: the file's program with the bug in it, and diagnose's keyword arguments.

    Every function of the file is rebound to one namespace in which the bug's names are replaced, so a
    buggy helper reaches every function that calls it, as in the learner's own program. A value of
    CORRECT that the bug replaces by name (the learning rate) is passed on replaced too.
    """
    replace = bug.replace if bug is not None else {}
    names = dict(vars(module), **replace)
    for name, value in list(names.items()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            names[name] = types.FunctionType(value.__code__, names, value.__name__, value.__defaults__,
                                             value.__closure__)
    kwargs = {}
    for key, value in module.CORRECT.items():
        if isinstance(value, types.FunctionType):
            kwargs[key] = names[value.__name__]
        else:
            kwargs[key] = next((replace[n] for n in replace if vars(module).get(n) is value), value)
    return names["make"], kwargs
