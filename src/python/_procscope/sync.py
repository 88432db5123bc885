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
MAX_HELD_IDS = 64  # in a wait report (its line stays short: see agent.SEND_BYTES)

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
                if len(held) == MAX_HELD_IDS:
                    break
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


def _reported_wait(ident, kind, site, target, call, args, kwargs):
    """Run `call(*args, **kwargs)`, a call that would block, between a wait report and a wake report."""
    try:
        began = _begin(ident, kind, site, target)
    except Exception:
        began = False
    if not began:
        return call(*args, **kwargs)
    result = False
    try:
        result = call(*args, **kwargs)
        return result
    finally:
        try:
            _end(ident, kind in _HOLDER_KINDS and result is True)
        except Exception:
            pass


def _wrap_wait(cls, name, plan):
    """Wrap cls.NAME so that a call `plan` says would block ((id, kind, site, target), else None) is reported.

    The wrapper keeps what it needs in its closure and falls back to the original on any failure of its own: late in
    interpreter shutdown this module's globals may already be gone.
    """
    original = cls.__dict__.get(name)
    if original is None or getattr(original, '_procscope_wraps', None) is not None:
        return
    reported_wait = _reported_wait

    def wrapper(self, *args, **kwargs):
        try:
            what = plan(self, *args, **kwargs)
        except Exception:
            what = None
        if what is None:
            return original(self, *args, **kwargs)
        ident, kind, site, target = what
        return reported_wait(ident, kind, site, target, original, (self,) + args, kwargs)

    agent.dress(wrapper, original)
    wrapper._procscope_wraps = original
    setattr(cls, name, wrapper)


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

    reported_wait = _reported_wait
    send = _send
    getpid = os.getpid

    def blocking(block, timeout):
        if not block or (timeout is not None and timeout <= 0):
            return native(block, timeout)
        return reported_wait(ident, kind, site, 0, native, (block, timeout), {})

    def acquire(block=True, timeout=None):
        if native(False):
            return True
        return blocking(block, timeout)

    # Weakly: the lock holds this function, and must stay free of cycles so that it (and its semaphore's finalizer)
    # goes as soon as the program drops it, as it would without us.
    lock_ref = weakref.ref(lock)

    def first_acquire(block=True, timeout=None):
        acquired = native(False) or blocking(block, timeout)
        owner = lock_ref() if acquired else None
        if owner is not None:
            owner.__dict__['acquire'] = acquire
            try:
                send((('t', 'hold'), ('pid', getpid()), ('id', ident)))
            except Exception:
                pass
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
        setattr(semlock_class, name, agent.dress(value, getattr(semlock_class, name)))
    _patch_waits(module)


def _semlock_ident(semlock_object):
    return _identity(semlock_object) if semlock_object is not None else None


def _site_known(semlock_object):
    return semlock_object.__dict__.get('_procscope_site', '') if semlock_object is not None else ''


def _no_wait(timeout):
    return timeout is not None and timeout <= 0


def _plan_condition_wait(self, timeout=None):
    semaphore = self._wait_semaphore
    return None if _no_wait(timeout) else (_semlock_ident(semaphore), 'Condition', _site_known(semaphore), 0)


def _plan_event_wait(self, timeout=None):
    flag = self._flag
    if _no_wait(timeout) or flag._semlock._get_value() > 0:  # set already (macOS cannot tell: raises, no report)
        return None
    return (_semlock_ident(flag), 'Event', _site_known(flag), 0)


def _plan_barrier_wait(self, timeout=None):
    semaphore = self._cond._wait_semaphore
    return (_semlock_ident(semaphore), 'Barrier', _site_known(semaphore), 0)


def _plan_queue_get(self, block=True, timeout=None):
    if not block or _no_wait(timeout) or self._poll():
        return None
    return (_semlock_ident(self._rlock), 'Queue.get', _site_known(self._rlock), 0)


def _plan_queue_put(self, obj, block=True, timeout=None):
    if not block or _no_wait(timeout) or self._sem._semlock._get_value() > 0:
        return None
    return (_semlock_ident(self._rlock), 'Queue.put', _site_known(self._rlock), 0)


def _plan_queue_join(self):
    if self._unfinished_tasks._semlock._is_zero():
        return None
    return (_semlock_ident(self._rlock), 'JoinableQueue.join', _site_known(self._rlock), 0)


def _plan_process_join(self, timeout=None):
    popen = self.__dict__.get('_popen')
    if popen is None or _no_wait(timeout) or popen.poll() is not None:
        return None
    return ('pid:%d' % popen.pid, 'Process.join', _site_of(_caller()), popen.pid)


def _patch_waits(module):
    condition = getattr(module, 'Condition', None)
    if condition is not None:
        _wrap_wait(condition, 'wait', _plan_condition_wait)
    event = getattr(module, 'Event', None)
    if event is not None:
        _wrap_wait(event, 'wait', _plan_event_wait)
    barrier = getattr(module, 'Barrier', None)
    if barrier is not None:
        # threading.Barrier.wait is inherited: wrap it on the subclass only.
        if 'wait' not in barrier.__dict__:
            barrier.wait = barrier.__mro__[1].__dict__['wait']
        _wrap_wait(barrier, 'wait', _plan_barrier_wait)


# ---------------------------------------------------------------------------------------------------------------------
# Queues: get on an empty queue, put on a full one, join while tasks are unfinished.

def _patch_queues(module):
    queue = getattr(module, 'Queue', None)
    if queue is not None:
        _wrap_wait(queue, 'get', _plan_queue_get)
        _wrap_wait(queue, 'put', _plan_queue_put)
    joinable = getattr(module, 'JoinableQueue', None)
    if joinable is not None:
        _wrap_wait(joinable, 'put', _plan_queue_put)  # its own put, not Queue's
        _wrap_wait(joinable, 'join', _plan_queue_join)


# ---------------------------------------------------------------------------------------------------------------------
# Process.join: a wait on another process, which can close a cycle of waits too.

def _patch_process(module):
    base = getattr(module, 'BaseProcess', None)
    if base is not None:
        _wrap_wait(base, 'join', _plan_process_join)


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
