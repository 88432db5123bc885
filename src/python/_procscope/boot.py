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
        finder = Finder()
        sys.meta_path.insert(0, finder)
        # Something (a .pth file) may have imported multiprocessing already: patch what is there.
        for name in TARGETS:
            module = sys.modules.get(name)
            if module is not None:
                finder.pending.discard(name)
                patch(module)
    except Exception:
        pass


class Finder(object):
    """Hands multiprocessing.process and .util to the agent right after they execute, before anyone imports from them.

    It stays on sys.meta_path once done (as a set lookup per import): removing it could make an import running in
    another thread skip a finder.
    """

    def __init__(self):
        self.pending = set(TARGETS)

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
        return spec


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


def patch(module):
    """Instrument a freshly imported module; failures are swallowed, the program runs on uninstrumented."""
    try:
        dont_write_bytecode = sys.dont_write_bytecode
        sys.dont_write_bytecode = False
        try:
            from _procscope import agent
        finally:
            sys.dont_write_bytecode = dont_write_bytecode
        agent.patch(module)
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


def chain(our_file):
    """Run the sitecustomize ours shadows, as `sitecustomize`, exactly as Python would have run it without us."""
    ours = set()
    for directory in (os.environ.get('PROCSCOPE_HELPER_DIR'), os.path.dirname(os.path.abspath(our_file))):
        if directory:
            ours.add(os.path.normcase(os.path.abspath(directory)))
    search = []
    for entry in sys.path:
        try:
            if os.path.normcase(os.path.abspath(entry or os.curdir)) in ours:
                continue
        except Exception:
            pass
        search.append(entry)
    if sys.version_info < (3, 4):
        _chain_python2(search)
        return
    bootstrap_external = sys.modules.get('_frozen_importlib_external')
    if bootstrap_external is not None:
        path_finder = bootstrap_external.PathFinder
    else:
        from importlib.machinery import PathFinder as path_finder
    spec = path_finder.find_spec('sitecustomize', search)
    if spec is None or spec.loader is None:
        return
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


def _chain_python2(search):
    import imp
    try:
        found = imp.find_module('sitecustomize', search)
    except ImportError:
        return
    try:
        imp.load_module('sitecustomize', *found)  # re-executes into the module being imported: it becomes that one
    finally:
        if found[0] is not None:
            found[0].close()
