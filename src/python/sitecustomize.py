# ProcScope's Python helper: hooks multiprocessing if the program imports it, then runs the sitecustomize it shadows.
# It runs at every interpreter start under a ProcScope launch, so it stays tiny; see _procscope/boot.py.


def _procscope_boot():
    """Returns whether a sitecustomize of the program's ran (chained) in place of this one."""
    import sys

    # Our own files may always be byte-compiled, even under PYTHONDONTWRITEBYTECODE: it keeps this startup cost near zero.
    dont_write_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        from _procscope import boot
    except Exception:
        return False
    finally:
        sys.dont_write_bytecode = dont_write_bytecode
    boot.install()
    if dont_write_bytecode:
        boot.cache_bytecode(__file__, globals().get('__cached__'))
    try:
        return boot.chain(__file__)  # the shadowed module's own errors surface here, as they would have without us
    finally:
        boot.leave_path(__file__)


if not _procscope_boot():
    # The program has no sitecustomize: neither does it with us. site ignores this error as it ignores a missing module,
    # and a later `import sitecustomize` fails as it would have (our directory is off sys.path by now).
    try:
        _procscope_missing = ModuleNotFoundError("No module named 'sitecustomize'", name='sitecustomize')
    except NameError:  # before 3.6: stay imported, as before
        _procscope_missing = None
    if _procscope_missing is not None:
        raise _procscope_missing
del _procscope_boot
