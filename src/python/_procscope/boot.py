# Loaded by sitecustomize.py at interpreter start: installs the multiprocessing import hook, and chains to the
# sitecustomize that ours shadows. Reporting itself lives in agent.py, loaded only once multiprocessing is imported.
# Environment: PROCSCOPE_SOCKET, PROCSCOPE_TOKEN, PROCSCOPE_LOG_LEVEL, PROCSCOPE_HELPER_DIR (set by the extension).
# Python 3.8+ is instrumented; older interpreters (2.7 included: keep this file's syntax plain) only get the chaining.

import os
import sys

TARGETS = ('multiprocessing.process', 'multiprocessing.util', 'multiprocessing.synchronize', 'multiprocessing.queues')


def install():
    """Put the hook on sys.meta_path if the extension is listening; never raises."""
    try:
        if sys.version_info < (3, 8):
            return
        path = os.environ.get('PROCSCOPE_SOCKET')
        if not path or not os.environ.get('PROCSCOPE_TOKEN'):
            return
        # A variable left over in a terminal points at a socket that is gone: then do nothing at all.
        # (A Windows named pipe cannot be probed without taking one of its instances, so it is not checked.)
        if not path.startswith('\\\\') and not os.path.exists(path):
            return
        # Something (a .pth file) may have imported multiprocessing already: patch what is there, hook only the rest.
        pending = set(name for name in TARGETS if name not in sys.modules)
        if pending:
            sys.meta_path.insert(0, Finder(pending))
        for name in TARGETS:
            module = sys.modules.get(name)
            if module is not None and name not in pending:
                patch(module)
    except Exception:
        pass


class Finder(object):
    """Hands multiprocessing's modules to the agent right after they execute, before anyone imports from them.

    Once every target is done it leaves sys.meta_path, as it would never have been there, unless other threads run:
    one of them could be walking sys.meta_path, and would skip a finder. Then it stays, as a set lookup per import.
    """

    def __init__(self, pending):
        self.pending = pending

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.pending:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find_spec = getattr(finder, 'find_spec', None)
            if find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if getattr(spec.loader, 'exec_module', None) is None:
            return spec
        self.pending.discard(fullname)
        spec.loader = PatchingLoader(spec.loader)
        if not self.pending:
            self.leave()  # the import under way walks sys.meta_path no further: this returns the spec it ends with
        return spec

    def leave(self):
        try:
            import _thread
            if _thread._count() == 0 and self in sys.meta_path:
                sys.meta_path.remove(self)
        except Exception:
            pass


class PatchingLoader(object):
    """Runs the real loader, then the agent's patch; the module keeps the real loader as its __loader__."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        create_module = getattr(self.loader, 'create_module', None)
        return create_module(spec) if create_module is not None else None

    def exec_module(self, module):
        try:
            module.__loader__ = self.loader
            module.__spec__.loader = self.loader
        except Exception:
            pass
        self.loader.exec_module(module)
        patch(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


def import_own(name):
    """One of our modules, its bytecode cached even under PYTHONDONTWRITEBYTECODE: compiling it would cost every start."""
    dont_write_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        return __import__('_procscope.' + name, fromlist=[name])
    finally:
        sys.dont_write_bytecode = dont_write_bytecode


def patch(module):
    """Instrument a freshly imported module; failures are swallowed, the program runs on uninstrumented."""
    try:
        import_own('agent').patch(module)
    except Exception:
        pass


def cache_bytecode(source, cached):
    """Write sitecustomize's own .pyc, which PYTHONDONTWRITEBYTECODE stopped: compiling it costs every start ~1 ms."""
    try:
        if not cached:
            return
        try:
            if os.stat(cached).st_mtime >= os.stat(source).st_mtime:
                return
        except OSError:
            pass
        import py_compile
        py_compile.compile(source, cfile=cached, doraise=True)
    except Exception:
        pass


def _our_directories(our_file):
    ours = set()
    for directory in (os.environ.get('PROCSCOPE_HELPER_DIR'), os.path.dirname(os.path.abspath(our_file))):
        if directory:
            ours.add(os.path.normcase(os.path.abspath(directory)))
    return ours


def leave_path(our_file):
    """Take the entry PYTHONPATH put on sys.path for us off it again (the variable stays, for spawned children)."""
    try:
        ours = _our_directories(our_file)
        for entry in os.environ.get('PYTHONPATH', '').split(os.pathsep):
            if entry and entry in sys.path and os.path.normcase(os.path.abspath(entry)) in ours:
                sys.path.remove(entry)
                sys.path_importer_cache.pop(entry, None)
    except Exception:
        pass


def chain(our_file):
    """Run the sitecustomize ours shadows, as `sitecustomize`, exactly as Python would have run it without us.

    Returns whether there was one.
    """
    ours = _our_directories(our_file)
    search = []
    for entry in sys.path:
        try:
            if os.path.normcase(os.path.abspath(entry or os.curdir)) in ours:
                continue
        except Exception:
            pass
        search.append(entry)
    if sys.version_info < (3, 4):
        return _chain_python2(search)
    bootstrap_external = sys.modules.get('_frozen_importlib_external')
    if bootstrap_external is not None:
        path_finder = bootstrap_external.PathFinder
    else:
        from importlib.machinery import PathFinder as path_finder
    spec = path_finder.find_spec('sitecustomize', search)
    if spec is None or spec.loader is None:
        return False
    bootstrap = sys.modules.get('_frozen_importlib')
    if bootstrap is not None:
        module = bootstrap.module_from_spec(spec)
    else:
        from importlib.util import module_from_spec
        module = module_from_spec(spec)
    # The import of `sitecustomize` that is running now returns whatever sys.modules holds when it ends.
    sys.modules['sitecustomize'] = module
    # Errors here are the shadowed module's own: let site report them as it would have.
    spec.loader.exec_module(module)
    return True


def _chain_python2(search):
    import imp
    try:
        found = imp.find_module('sitecustomize', search)
    except ImportError:
        return False
    try:
        imp.load_module('sitecustomize', *found)  # re-executes into the module being imported: it becomes that one
    finally:
        if found[0] is not None:
            found[0].close()
    return True
