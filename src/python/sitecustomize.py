# ProcScope's Python helper: hooks multiprocessing if the program imports it, then runs the sitecustomize it shadows.
# It runs at every interpreter start under a ProcScope launch, so it stays tiny; see _procscope/boot.py.


def _procscope_boot():
    import sys

    # Our own files may always be byte-compiled, even under PYTHONDONTWRITEBYTECODE: it keeps this startup cost near zero.
    dont_write_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        from _procscope import boot
    except Exception:
        return
    finally:
        sys.dont_write_bytecode = dont_write_bytecode
    boot.install()
    if dont_write_bytecode:
        boot.cache_bytecode(__file__, globals().get('__cached__'))
    boot.chain(__file__)  # the shadowed module's own errors surface here, as they would have without us


_procscope_boot()
del _procscope_boot
