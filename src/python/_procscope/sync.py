# Reports blocking waits on multiprocessing's synchronisation objects, so ProcScope can say who waits on what, who holds
# it, and catch a deadlock as it forms.
#
# Loaded by agent.py when multiprocessing.synchronize, .queues or .process is imported. Uncontended calls stay on a fast
# path: a Lock's acquire first tries the native non-blocking acquire and reports nothing when it succeeds (only the
# first acquisition of each lock by each process is reported, so a holder is known). Only a call that is about to
# block reports its begin and end. Nothing here ever raises into the program.
#
# Wire format (see agent.py for the framing):
#   {"t":"sync","pid":P,"id":ID,"kind":"Lock","site":"bank.py:12"}          a lock or semaphore was created
#   {"t":"hold","pid":P,"id":ID}                                             P acquired ID (its first time)
#   {"t":"wait","pid":P,"id":ID,"kind":K,"site":S,"holds":"ID ID","target":C,"time":MS}   P starts waiting
#   {"t":"woke","pid":P,"id":ID,"acquired":B}                                P stopped waiting (B: it got the lock)
# ID is the semaphore's name where it has one (spawn, forkserver: the same in every process), else the creator's pid and
# the semaphore's address (fork: children inherit both). K is Lock, RLock, Semaphore, BoundedSemaphore, Condition,
# Event, Barrier, Queue.get, Queue.put, JoinableQueue.join or Process.join (ID "pid:C", C the child's pid).

import os
import sys
import time
import weakref
import _thread

from _procscope import agent

_MULTIPROCESSING_DIR = os.path.dirname(os.path.abspath(getattr(sys.modules.get('multiprocessing'), '__file__', '') or '.'))
_OUR_DIR = os.path.dirname(os.path.abspath(__file__))
_THREADING_FILE = getattr(sys.modules.get('threading'), '__file__', None)
_SEMLOCK_FILES = ('synchronize.py', 'context.py')
_HOLDER_KINDS = ('Lock', 'RLock')
MAX_SITE_CHARS = 512

# Locks and RLocks of this process's program (not multiprocessing's own), by id: what it holds is asked of them.
_locks = weakref.WeakValueDictionary()
# Threads inside a reported wait: the waits a reported one makes inside itself are not reported again.
_waiting = set()


def _after_fork_in_child():
    """A forked child holds none of the locks it inherited: its own first acquisitions are reported again."""
    try:
        _waiting.clear()
        for lock in list(_locks.values()):
            first = lock.__dict__.get('_procscope_first_acquire')
            if first is not None:
                lock.__dict__['acquire'] = first
    except Exception:
        pass


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _in_multiprocessing(filename):
    return os.path.dirname(os.path.abspath(filename)) == _MULTIPROCESSING_DIR


def _caller():
    """The first frame outside multiprocessing, this helper and threading: where the program called in."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith(_OUR_DIR) or filename == _THREADING_FILE or _in_multiprocessing(filename)):
            return frame
        frame = frame.f_back
    return None


def _site_of(frame):
    if frame is None:
        return ''
    return agent._clip('%s:%d' % (os.path.basename(frame.f_code.co_filename), frame.f_lineno), MAX_SITE_CHARS)


def _created_by_multiprocessing():
    """Whether the SemLock being created belongs to multiprocessing's own machinery (a Queue's locks, a Pool's)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_OUR_DIR) or (_in_multiprocessing(filename) and os.path.basename(filename) in _SEMLOCK_FILES):
            frame = frame.f_back
            continue
        return _in_multiprocessing(filename)
    return False


def _identity(semlock_object):
    known = semlock_object.__dict__.get('_procscope_id')
    if known is not None:
        return known
    semlock = semlock_object._semlock
    name = getattr(semlock, 'name', None)
    ident = name if name else '%d-%x' % (os.getpid(), semlock.handle)
    semlock_object.__dict__['_procscope_id'] = ident
    return ident


def _send(pairs):
    try:
        agent.send(agent.encode(pairs))
    except Exception:
        pass


def _held_ids():
    held = []
    for ident, lock in list(_locks.items()):
        try:
            if lock._semlock._count() > 0:
                held.append(ident)
        except Exception:
            pass
    return ' '.join(held)


def _begin(ident, kind, site, target=0):
    thread = _thread.get_ident()
    if thread in _waiting:
        return False
    _waiting.add(thread)
    _send((('t', 'wait'), ('pid', os.getpid()), ('id', ident), ('kind', kind), ('site', site),
           ('holds', _held_ids()), ('target', target), ('time', time.time() * 1000.0)))
    return True


def _end(ident, acquired):
    _waiting.discard(_thread.get_ident())
    _send((('t', 'woke'), ('pid', os.getpid()), ('id', ident), ('acquired', bool(acquired))))


def _reported_wait(ident, kind, site, call, *args, target=0):
    """Run `call(*args)`, a call that would block, between a wait report and a wake report."""
    try:
        began = _begin(ident, kind, site, target)
    except Exception:
        began = False
    if not began:
        return call(*args)
    result = False
    try:
        result = call(*args)
        return result
    finally:
        try:
            _end(ident, kind in _HOLDER_KINDS and result is True)
        except Exception:
            pass


# ---------------------------------------------------------------------------------------------------------------------
# Locks and semaphores: SemLock and its subclasses.

def _wrap_acquire(lock):
    """Replace the instance's native acquire (set by _make_methods) with one that reports only when it would block.

    A lock whose holder matters (Lock, RLock) first gets an acquire that also reports its first acquisition, then swaps
    itself for the lean one; a forked child goes back to the first (see _after_fork_in_child).
    """
    semlock = lock._semlock
    native = semlock.acquire
    ident = _identity(lock)
    kind = type(lock).__name__
    site = lock.__dict__.get('_procscope_site', '')
    holder = kind in _HOLDER_KINDS and not lock.__dict__.get('_procscope_internal', False)

    def blocking(block, timeout):
        if not block or (timeout is not None and timeout <= 0):
            return native(block, timeout)
        return _reported_wait(ident, kind, site, native, block, timeout)

    def acquire(block=True, timeout=None):
        if native(False):
            return True
        return blocking(block, timeout)

    def first_acquire(block=True, timeout=None):
        acquired = native(False) or blocking(block, timeout)
        if acquired:
            lock.__dict__['acquire'] = acquire
            # After a wait, the wake report said it already.
            _send((('t', 'hold'), ('pid', os.getpid()), ('id', ident)))
        return acquired

    for function in (acquire, first_acquire):
        function.__doc__ = getattr(native, '__doc__', None)
    lock.__dict__['_procscope_first_acquire'] = first_acquire
    lock.acquire = first_acquire if holder else acquire
    if holder:
        _locks[ident] = lock


def _patch_synchronize(module):
    semlock_class = getattr(module, 'SemLock', None)
    if semlock_class is None or '_procscope' in semlock_class.__dict__:
        return
    semlock_class._procscope = True
    original_init = semlock_class.__init__
    original_make_methods = semlock_class._make_methods

    def __init__(self, *args, **kwargs):
        # Where the program created it, and whether multiprocessing made it for itself: known before the methods are
        # made (original_init makes them).
        try:
            self.__dict__['_procscope_site'] = _site_of(_caller())
            self.__dict__['_procscope_internal'] = _created_by_multiprocessing()
        except Exception:
            pass
        original_init(self, *args, **kwargs)
        try:
            if not self.__dict__.get('_procscope_internal'):
                _send((('t', 'sync'), ('pid', os.getpid()), ('id', _identity(self)), ('kind', type(self).__name__),
                       ('site', self.__dict__.get('_procscope_site', ''))))
        except Exception:
            pass

    def _make_methods(self):
        original_make_methods(self)
        try:
            _wrap_acquire(self)
        except Exception:
            pass

    def __enter__(self):
        return self.acquire()

    for name, value in (('__init__', __init__), ('_make_methods', _make_methods), ('__enter__', __enter__)):
        original = getattr(semlock_class, name)
        for attribute in ('__module__', '__name__', '__qualname__', '__doc__'):
            try:
                setattr(value, attribute, getattr(original, attribute))
            except Exception:
                pass
        setattr(semlock_class, name, value)
    _patch_waits(module)


def _wrap_method(cls, name, make):
    original = cls.__dict__.get(name)
    if original is None or getattr(original, '_procscope_wraps', None) is not None:
        return
    wrapper = make(original)
    for attribute in ('__module__', '__name__', '__qualname__', '__doc__'):
        try:
            setattr(wrapper, attribute, getattr(original, attribute))
        except Exception:
            pass
    wrapper.__wrapped__ = original
    wrapper._procscope_wraps = original
    setattr(cls, name, wrapper)


def _semlock_ident(semlock_object):
    try:
        return _identity(semlock_object)
    except Exception:
        return None


def _site_known(semlock_object):
    return semlock_object.__dict__.get('_procscope_site', '') if semlock_object is not None else ''


def _patch_waits(module):
    condition = getattr(module, 'Condition', None)
    if condition is not None:
        def make(original):
            def wait(self, timeout=None):
                semaphore = getattr(self, '_wait_semaphore', None)
                ident = _semlock_ident(semaphore) if semaphore is not None else None
                if ident is None or (timeout is not None and timeout <= 0):
                    return original(self, timeout)
                return _reported_wait(ident, 'Condition', _site_known(semaphore), original, self, timeout)
            return wait
        _wrap_method(condition, 'wait', make)

    event = getattr(module, 'Event', None)
    if event is not None:
        def make(original):
            def wait(self, timeout=None):
                flag = getattr(self, '_flag', None)
                try:
                    is_set = flag._semlock._get_value() > 0
                except Exception:
                    is_set = True  # cannot tell (macOS): do not report
                ident = _semlock_ident(flag) if flag is not None else None
                if is_set or ident is None or (timeout is not None and timeout <= 0):
                    return original(self, timeout)
                return _reported_wait(ident, 'Event', _site_known(flag), original, self, timeout)
            return wait
        _wrap_method(event, 'wait', make)

    barrier = getattr(module, 'Barrier', None)
    if barrier is not None:
        def make(original):
            def wait(self, timeout=None):
                semaphore = getattr(getattr(self, '_cond', None), '_wait_semaphore', None)
                ident = _semlock_ident(semaphore) if semaphore is not None else None
                if ident is None:
                    return original(self, timeout)
                return _reported_wait(ident, 'Barrier', _site_known(semaphore), original, self, timeout)
            return wait
        # threading.Barrier.wait is inherited: wrap it on the subclass only.
        if 'wait' not in barrier.__dict__:
            barrier.wait = barrier.__mro__[1].__dict__['wait']
        _wrap_method(barrier, 'wait', make)


# ---------------------------------------------------------------------------------------------------------------------
# Queues: get on an empty queue, put on a full one, join while tasks are unfinished.

def _patch_queues(module):
    queue = getattr(module, 'Queue', None)
    if queue is not None:
        def make_get(original):
            def get(self, block=True, timeout=None):
                if not block or (timeout is not None and timeout <= 0):
                    return original(self, block, timeout)
                try:
                    ready = self._poll()
                except Exception:
                    ready = True
                lock = getattr(self, '_rlock', None)
                ident = _semlock_ident(lock) if lock is not None else None
                if ready or ident is None:
                    return original(self, block, timeout)
                return _reported_wait(ident, 'Queue.get', _site_known(lock), original, self, block, timeout)
            return get

        def make_put(original):
            def put(self, obj, block=True, timeout=None):
                semaphore = getattr(self, '_sem', None)
                try:
                    full = block and (timeout is None or timeout > 0) and semaphore._semlock._get_value() == 0
                except Exception:
                    full = False
                lock = getattr(self, '_rlock', None)
                ident = _semlock_ident(lock) if lock is not None else None
                if not full or ident is None:
                    return original(self, obj, block, timeout)
                return _reported_wait(ident, 'Queue.put', _site_known(lock), original, self, obj, block, timeout)
            return put

        _wrap_method(queue, 'get', make_get)
        _wrap_method(queue, 'put', make_put)

    joinable = getattr(module, 'JoinableQueue', None)
    if joinable is not None:
        def make_join(original):
            def join(self):
                try:
                    done = self._unfinished_tasks._semlock._is_zero()
                except Exception:
                    done = True
                lock = getattr(self, '_rlock', None)
                ident = _semlock_ident(lock) if lock is not None else None
                if done or ident is None:
                    return original(self)
                return _reported_wait(ident, 'JoinableQueue.join', _site_known(lock), original, self)
            return join
        _wrap_method(joinable, 'join', make_join)


# ---------------------------------------------------------------------------------------------------------------------
# Process.join: a wait on another process, which can close a cycle of waits too.

def _patch_process(module):
    base = getattr(module, 'BaseProcess', None)
    if base is None:
        return

    def make(original):
        def join(self, timeout=None):
            popen = self.__dict__.get('_popen')
            try:
                running = popen is not None and popen.poll() is None
            except Exception:
                running = False
            if not running or (timeout is not None and timeout <= 0):
                return original(self, timeout)
            pid = popen.pid
            return _reported_wait('pid:%d' % pid, 'Process.join', _site_of(_caller()), original, self, timeout, target=pid)
        return join
    _wrap_method(base, 'join', make)


def patch(module):
    """Instrument multiprocessing.synchronize, .queues or .process (idempotent); failures leave the module as it was."""
    name = getattr(module, '__name__', None)
    try:
        if name == 'multiprocessing.synchronize':
            _patch_synchronize(module)
        elif name == 'multiprocessing.queues':
            _patch_queues(module)
        elif name == 'multiprocessing.process':
            _patch_process(module)
    except Exception:
        pass
