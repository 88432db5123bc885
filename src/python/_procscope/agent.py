# Reports every multiprocessing.Process (start, exit) and multiprocessing's log records to ProcScope over a local socket.
#
# Loaded by sitecustomize.py when multiprocessing.process or multiprocessing.util is first imported. It watches and
# changes nothing: it observes through data descriptors (`BaseProcess._popen`, `Popen.returncode`) and util's log
# functions are replaced by copies of themselves that report first (no frame of ours under them), so output,
# tracebacks, return values and timing stay the program's own. It uses no fd it has not verified as its own, never
# waits for its lock (a signal handler may report), never raises into the program, and a failure to talk to the
# extension disables reporting for the rest of the process.
#
# Wire format (one JSON object per line, ASCII, each line at most MAX_LINE bytes including its newline):
#   {"t":"hello","token":T,"pid":P,"v":1}                       first line of every connection
#   {"t":"start","pid":C,"ppid":P,"name":N,"daemon":B,"method":"fork|spawn|forkserver","role":R}
#   {"t":"exit","pid":C,"code":X}                                 as the parent observes it (-15 after terminate())
#   {"t":"log","pid":P,"level":L,"levelname":"INFO","process":N,"msg":M}
# Every line names the process it is about: on Linux a child forked by multiprocessing speaks on its parent's
# connection, so one connection carries the lines of a whole tree of fork children (see _before_fork).

import atexit
import os
import sys
import time
import _thread
from _collections import deque
from time import monotonic as _monotonic

PROTOCOL_VERSION = 1
# Processes share a connection only on Linux, where a unix stream send is queued to the reader in pieces of up to
# ~36 KB (and half the socket's send buffer), each whole: so a send of whole lines, at most SEND_BYTES, never
# interleaves with another process's, and no line is longer. (A BSD or macOS send may go out in pieces others write
# between: there every process has its own connection.)
SEND_BYTES = 32 * 1024
MAX_LINE = SEND_BYTES
MAX_NAME_CHARS = 1024
MAX_MESSAGE_CHARS = 16 * 1024
SHORT_MESSAGE_CHARS = 1536  # 12 bytes a char at worst once escaped: with the longest head, this fits in MAX_LINE
TIMEOUT = 1.0
CONNECT_ATTEMPTS = 20

START_METHODS = ('fork', 'spawn', 'forkserver')

# multiprocessing.util's logging functions and their levels; `warn` exists in no version yet but is wrapped if added.
LOG_FUNCTIONS = (
    ('sub_debug', 5, 'SUBDEBUG'),
    ('debug', 10, 'DEBUG'),
    ('info', 20, 'INFO'),
    ('sub_warning', 25, 'SUBWARNING'),
    ('warn', 30, 'WARNING'),
)


def _read_level(text):
    try:
        level = int(text or 0)
    except ValueError:
        return 0
    return level if level > 0 else 0


def _is_helper_process():
    """Whether this is multiprocessing's forkserver or resource tracker: `python -c "from multiprocessing.X import main…"`.

    They are not Process objects, and their MainProcess records (e.g. "process shutting down", after the program has
    ended) are nothing log_to_stderr() in the program would print.
    """
    helpers = ('multiprocessing.forkserver', 'multiprocessing.resource_tracker', 'multiprocessing.semaphore_tracker')
    argv = getattr(sys, 'orig_argv', None)  # 3.10+
    if argv is not None:
        if '-c' not in argv[1:-1]:
            return False
        command = argv[argv.index('-c', 1) + 1]
        return any('from %s import main' % helper in command for helper in helpers)
    # 3.8, 3.9: this runs while the -c code imports multiprocessing, so the outermost frame is that code.
    frame = sys._getframe()
    while frame.f_back is not None:
        frame = frame.f_back
    return frame.f_code.co_filename == '<string>' and any(helper in frame.f_code.co_names for helper in helpers)


_PATH = os.environ.get('PROCSCOPE_SOCKET', '')
_TOKEN = os.environ.get('PROCSCOPE_TOKEN', '')
_LEVEL = _read_level(os.environ.get('PROCSCOPE_LOG_LEVEL'))
try:
    _HELPER_PID = os.getpid() if _is_helper_process() else 0
except Exception:
    _HELPER_PID = 0


# ---------------------------------------------------------------------------------------------------------------------
# JSON lines, encoded by hand: `json` costs ~3 ms to import and the messages are flat.

def _json_string(text):
    if text.isascii() and text.isprintable() and '"' not in text and '\\' not in text:
        return '"' + text + '"'
    out = []
    for char in text:
        code = ord(char)
        if char == '"' or char == '\\':
            out.append('\\' + char)
        elif 0x20 <= code < 0x7f:
            out.append(char)
        elif code > 0xffff:
            code -= 0x10000
            out.append('\\u%04x\\u%04x' % (0xd800 | (code >> 10), 0xdc00 | (code & 0x3ff)))
        else:
            out.append('\\u%04x' % code)
    return '"' + ''.join(out) + '"'


def _json_value(value):
    if value is True:
        return 'true'
    if value is False:
        return 'false'
    if isinstance(value, int):
        return '%d' % value
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float('inf'), float('-inf')) else 'null'
    return _json_string(str(value))


def encode(pairs):
    """One protocol line (bytes, newline included) from (key, value) pairs."""
    return ('{' + ','.join('"%s":%s' % (key, _json_value(value)) for key, value in pairs) + '}\n').encode('ascii')


def _clip(text, limit):
    return text if len(text) <= limit else text[:limit] + '\u2026'


# ---------------------------------------------------------------------------------------------------------------------
# The connection: opened by a process on its first message, or by a parent just before multiprocessing forks a child
# (see _before_fork): a child forked by multiprocessing keeps its parent's connection, any other child opens its own.
#
# The program owns the fd table: it may close our socket's fd (os.closerange) and take the number for a pipe or socket
# of its own. So the socket is known by what it is (its SO_COOKIE on Linux, else st_dev and st_ino), checked before
# every use: a number that now means something else is forgotten without being closed (detach) and a new connection is
# made. Nothing here closes an fd it has not just verified, not even the garbage collector or interpreter shutdown
# (_socket_class). Sends never raise SIGPIPE (MSG_NOSIGNAL, SO_NOSIGPIPE): the program may have restored SIG_DFL.
#
# Lines go through a queue: whoever holds the lock sends everything queued before letting go, and looks again after, so
# a report made while a send is under way (in a signal handler, or another thread) is queued and nobody waits for the
# lock. Records of multiprocessing's logger below INFO may wait in the queue a little (see _record); everything else
# is sent at once, with whatever waited before it. A send that fails stops reporting from this process.

FLUSH_BYTES = 16 * 1024  # queued records are sent once this much waits…
FLUSH_SECONDS = 0.05  # …or when a record comes this long after the last batch (so a lone record goes at once)
MAX_QUEUED = 100000  # lines; past it the oldest are dropped (the listener stalls and a send is about to fail anyway)

_lock = _thread.allocate_lock()
_queue = deque(maxlen=MAX_QUEUED)
_queued_bytes = 0  # of records, since the last send (approximate: not updated under the lock)
_last_batch = 0.0  # time.monotonic() of the last send a record made
_connection = None
_connection_identity = None
_connection_cookie = False  # its identity is its SO_COOKIE (Linux), else its (st_dev, st_ino)
_connection_shareable = False  # a child may speak on it too (Linux, and sends of SEND_BYTES go whole)
_send_flags = 0
_pid = os.getpid()  # the process the state above belongs to
_disabled = False
_exiting = False  # this process's atexit hooks are running: nothing waits any more
_socket_type = None


def _socket_class():
    """A _socket.socket that never closes its fd when collected: by then the number may be the program's."""
    global _socket_type
    if _socket_type is None:
        # _socket, not socket: a program that monkeypatches socket (gevent, eventlet) must not see our traffic.
        import _socket

        class _Socket(_socket.socket):
            __slots__ = ()

            def __del__(self):
                pass  # replaces the finalizer that would close the fd

        flags = getattr(_socket, 'MSG_NOSIGNAL', 0)  # a listener gone must not SIGPIPE a program that reset SIGPIPE
        nosigpipe = getattr(_socket, 'SO_NOSIGPIPE', 0x1022 if sys.platform == 'darwin' else None)  # macOS
        _socket_type = (_Socket, _socket, flags, nosigpipe)
    return _socket_type


class _PipeConnection(object):
    """A Windows named pipe, opened as a raw fd, with the socket methods used here."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | getattr(os, 'O_BINARY', 0))

    def fileno(self):
        return self.fd

    def sendall(self, data, flags=0):
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def close(self):
        fd, self.fd = self.fd, -1
        os.close(fd)

    def detach(self):
        fd, self.fd = self.fd, -1
        return fd


SOL_SOCKET_LINUX = 1
SO_COOKIE_LINUX = 57  # a socket's unique 64-bit id (Linux 4.12+): one small object, where fstat makes twenty
_LINUX = sys.platform.startswith('linux')
_HELLO = ('{"t":"hello","token":%s,"pid":%%d,"v":%d}\n' % (
    _json_string(_TOKEN).replace('%', '%%'), PROTOCOL_VERSION)).encode('ascii')


def _identity(connection, cookie):
    """What the connection's fd is now: its socket's cookie, or its (st_dev, st_ino); None if no socket or file."""
    try:
        if cookie:
            return connection.getsockopt(SOL_SOCKET_LINUX, SO_COOKIE_LINUX, 8)
        status = os.fstat(connection.fileno())
        return (status.st_dev, status.st_ino)
    except Exception:
        return None


def _connect():
    """A new connection, before its hello: (connection, identity, cookie, send flags, whether it may be shared)."""
    if _PATH.startswith('\\\\'):
        connection = _PipeConnection(_PATH)
        flags = 0
    else:
        socket_class, _socket, flags, nosigpipe = _socket_class()
        connection = socket_class(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        identity = _identity(connection, True) if _LINUX else None
        cookie = identity is not None
        if not cookie:
            identity = _identity(connection, False)
        if identity is None:
            raise OSError('cannot tell our socket from the program\'s fds')
        shareable = _LINUX and _whole_sends(connection, _socket)
        if hasattr(connection, 'settimeout'):
            if nosigpipe is not None and not flags:
                connection.setsockopt(_socket.SOL_SOCKET, nosigpipe, 1)
            connection.settimeout(TIMEOUT)
            for attempt in range(CONNECT_ATTEMPTS):
                try:
                    connection.connect(_PATH)
                    break
                except BlockingIOError:
                    # The listen backlog is full (many processes starting at once): wait a little and retry.
                    if attempt == CONNECT_ATTEMPTS - 1:
                        raise
                    time.sleep(0.01)
    except BaseException:
        connection.close()  # just made, and no one else has run since: still ours
        raise
    return connection, identity, cookie, flags, shareable


def _whole_sends(connection, _socket):
    """Whether Linux queues every send of SEND_BYTES as one piece here: a piece is at most half the send buffer."""
    needed = 2 * (SEND_BYTES + 64)
    try:
        if connection.getsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF) < needed:
            connection.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, needed // 2)  # the kernel doubles it, to a cap
        return connection.getsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF) >= needed
    except OSError:
        return False


def _open(pid, data):
    """Connect and send the hello (with `data` if both fit in one send); only then is the connection this process's, so
    that a child forked meanwhile never speaks on it before its hello. Returns what of `data` is still to be sent."""
    global _connection, _connection_identity, _connection_cookie, _send_flags, _connection_shareable
    connection, identity, cookie, flags, shareable = _connect()
    hello = _HELLO % pid
    try:
        if len(hello) + len(data) <= SEND_BYTES:
            connection.sendall(hello + data, flags)
            data = b''
        else:
            connection.sendall(hello, flags)
    except BaseException:
        if _identity(connection, cookie) == identity:
            connection.close()
        else:
            connection.detach()
        raise
    _connection_identity, _connection_cookie, _send_flags, _connection_shareable = identity, cookie, flags, shareable
    _connection = connection
    return data


def _forget_connection(close):
    """Let go of the connection: closed only if its fd is verifiably still ours, else detached and left alone."""
    global _connection, _connection_identity
    connection, identity = _connection, _connection_identity
    _connection = _connection_identity = None
    if connection is None:
        return
    try:
        if close and identity is not None and _identity(connection, _connection_cookie) == identity:
            connection.close()
        else:
            connection.detach()
    except Exception:
        pass


def _reset_after_fork(pid, shared):
    """In a new child: its own lock and queue; the parent's connection kept if `shared`, else its own made when needed.

    (Kept short: every page touched after a fork is a copy.)
    """
    global _lock, _pid, _disabled, _queued_bytes, _last_batch, _exiting
    _lock = _thread.allocate_lock()  # another thread may have held the old one at the fork
    if _queue:
        _queue.clear()  # the parent's lines: it sends them itself
    _pid = pid
    if _exiting:
        _exiting = False
    if _queued_bytes:
        _queued_bytes = 0
    if _last_batch:
        _last_batch = 0.0
    if not shared or _disabled or not _connection_shareable:
        _disabled = False
        _forget_connection(True)  # the parent's: closed here (verified), so that it ends with the parent


def _send_queued():
    """Send every queued line, in sends of at most SEND_BYTES; the caller holds the lock. The queue ends empty."""
    global _queued_bytes
    if _queued_bytes:  # a store to the module's dict is a page written: none when nothing changes
        _queued_bytes = 0
    if len(_queue) == 1:  # the common case, without a list (what is allocated here just after a fork costs a page)
        _send_data(_queue.popleft())
        return
    lines = []
    size = 0
    popleft = _queue.popleft
    while _queue:
        line = popleft()
        if size + len(line) > SEND_BYTES and lines:
            if not _send_data(b''.join(lines)):
                _queue.clear()  # what is left is not this process's to send, or cannot be sent
                return
            lines = []
            size = 0
        lines.append(line)
        size += len(line)
    if lines:
        _send_data(b''.join(lines))


def _send_data(data):
    """Send `data` (whole lines, at most SEND_BYTES, or b'' to connect only) on this process's connection, made with
    its hello if there is none; the caller holds the lock. False if nothing can be sent from here."""
    global _disabled
    pid = os.getpid()
    if pid != _pid:
        _reset_after_fork(pid, False)  # a fork that skipped the at-fork hooks: what is queued is the parent's
        return False
    if _disabled or not _PATH:
        return False
    try:
        connection = _connection
        if connection is not None and _connection_cookie:
            try:
                same = connection.getsockopt(SOL_SOCKET_LINUX, SO_COOKIE_LINUX, 8) == _connection_identity
            except OSError:
                same = False
        else:
            same = connection is not None and _identity(connection, False) == _connection_identity
        if connection is not None and not same:
            _forget_connection(False)  # its fd was closed, maybe reused: the program's now
            connection = None
        if connection is None:
            data = _open(pid, data)
            connection = _connection
        if data:
            connection.sendall(data, _send_flags)
        return True
    except BaseException as error:
        _disabled = True
        _queue.clear()
        _forget_connection(True)
        if not isinstance(error, Exception):
            raise
        return False


def flush():
    """Send what is queued now, unless someone is sending: then it sends it before it lets go. Never waits."""
    while _queue:
        lock = _lock
        if not lock.acquire(False):
            return
        try:
            _send_queued()
        finally:
            lock.release()


def send(line):
    """Send one encoded line now (after whatever waits before it); never raises, never waits for the lock."""
    try:
        if _disabled or len(line) > MAX_LINE:  # never made so long (it could be split, see SEND_BYTES)
            return
        lock = _lock
        if not _queue and lock.acquire(False):  # nothing before it: sent as it is (this runs just after every fork start)
            try:
                _send_data(line)
            finally:
                lock.release()
            if _queue:  # queued by another thread meanwhile, which left the sending to us
                flush()
            return
        _queue.append(line)
        flush()
    except Exception:  # this module's globals may be gone late in interpreter shutdown
        pass


def _record(line, now):
    """Queue a record; send it with the rest when `now`, when enough waits, or when the last batch went a while ago."""
    global _queued_bytes, _last_batch
    if _disabled:
        return
    _queue.append(line)
    _queued_bytes += len(line)
    if now or _exiting:
        flush()
        return
    moment = time.monotonic()
    if _queued_bytes >= FLUSH_BYTES or moment - _last_batch >= FLUSH_SECONDS:
        _last_batch = moment
        flush()


_fork_launch_code = [None]  # [the code of multiprocessing.popen_fork.Popen._launch], once that module is loaded


def _fork_launch(frame):
    """Whether `frame`, which calls os.fork() now, is multiprocessing's fork launch (popen_fork.Popen._launch)."""
    code = _fork_launch_code[0]
    if code is None:
        popen = getattr(sys.modules.get('multiprocessing.popen_fork'), 'Popen', None)
        code = getattr(getattr(popen, '__dict__', {}).get('_launch'), '__code__', None)
        if code is None:
            return False
        _fork_launch_code[0] = code
    return frame is not None and frame.f_code is code


def _before_fork():
    try:
        if _queue:
            flush()  # the parent's lines, in order, before the child's
        if _connection is None and _LINUX and not _disabled and _fork_launch(sys._getframe(1)):
            # multiprocessing forks a child: it will speak on this connection, made now if there is none
            lock = _lock
            if lock.acquire(False):
                try:
                    _send_data(b'')
                finally:
                    lock.release()
    except KeyboardInterrupt:
        _thread.interrupt_main()  # Ctrl-C while connecting: Python ignores what a fork hook raises, so raise it again
    except BaseException:
        pass


def _after_fork_in_child():
    try:
        _reset_after_fork(os.getpid(), _LINUX and _fork_launch(sys._getframe(1)))
    except Exception:  # this module's globals may be gone late in interpreter shutdown
        pass


def _at_exit():
    global _exiting
    try:
        _exiting = True
        flush()
    except Exception:
        pass


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
atexit.register(_at_exit)


# ---------------------------------------------------------------------------------------------------------------------
# Processes: reported when `start()` stores its Popen, and when the Popen's returncode is first set.

def _start_method(process, popen):
    method = getattr(popen, 'method', None)
    if method not in START_METHODS:
        method = getattr(process, '_start_method', None)
    return method if method in START_METHODS else 'spawn'


# What a Process is in multiprocessing's machinery, told by the function it runs (its name does not say, for a
# ProcessPoolExecutor's workers: ForkProcess-1…).
_ROLE_TARGETS = {
    ('concurrent.futures.process', '_process_worker'): b'pool-worker',
    ('multiprocessing.pool', 'worker'): b'pool-worker',
    ('multiprocessing.managers', '_run_server'): b'manager',
}


def _role(process):
    target = getattr(process, '_target', None)
    key = (getattr(target, '__module__', None), getattr(target, '__name__', None))
    return _ROLE_TARGETS.get(key, b'')


# A fork start's report is sent just after the fork, while the parent's pages are shared copy-on-write with the child:
# every page written then (an object's reference count is a write) costs a fault and a copy, ~50 a start if the line
# is made the plain way. So what depends only on the Popen class (its method; whether its exits are watched) is worked
# out at the class's first start, the role of the last target's code is remembered (a program starts many processes
# with one target), the line is bytes formatted in one step from values read straight from the process's dict, and it
# carries no time (the server stamps it as it reads it: a start is sent as it happens).

_START = b'{"t":"start","pid":%d,"ppid":%d,"name":"%s","daemon":%s,"method":"%s","role":"%s"}\n'
_popen_classes = {}  # Popen class -> (its start method as bytes, or None if the process's says; whether exits are watched)
_last_role = [(None, b'')]  # [(the code of the last target function, its role)]: not the function, which must be let go


def _popen_class(cls):
    known = _popen_classes.get(cls)
    if known is None:
        method = getattr(cls, 'method', None)
        known = _popen_classes[cls] = (method.encode('ascii') if method in START_METHODS else None, _watch_returncode(cls))
    return known


def _start_line(process, popen, method):
    state = process.__dict__
    name = state.get('_name')
    if type(name) is str and len(name) <= MAX_NAME_CHARS and name.isascii() and name.isprintable() and '"' not in name \
            and '\\' not in name:
        name = name.encode('ascii')
    else:
        name = _json_string(_clip(str(process.name), MAX_NAME_CHARS))[1:-1].encode('ascii')
    config = state.get('_config')
    daemon = config.get('daemon') if type(config) is dict else process.daemon
    code = getattr(state.get('_target'), '__code__', None)
    known = _last_role[0]
    if code is None or code is not known[0]:
        known = _last_role[0] = (code, _role(process))  # one store: another thread may be starting a process too
    return _START % (
        popen.pid, _pid, name, b'true' if daemon else b'false', method or _start_method(process, popen).encode('ascii'), known[1])


def _report_start(process, popen):
    try:
        method, watched = _popen_class(type(popen))
        send(_start_line(process, popen, method))
        if watched:
            state = popen.__dict__
            returncode = state.get('returncode')
            if returncode is None:
                state['_procscope_pid'] = popen.pid
            else:
                _report_exit(popen.pid, returncode)
    except Exception:
        pass


def _report_exit(pid, returncode):
    try:
        send(b'{"t":"exit","pid":%d,"code":%d}\n' % (pid, int(returncode)))
    except Exception:
        pass


class _PopenSlot(object):
    """`BaseProcess._popen`, kept in the instance dict as before; storing a Popen reports the start."""

    def __get__(self, process, owner=None):
        # Read before BaseProcess.__init__ stored it (a subclass setting `daemon` before calling it): the same error.
        if process is None:
            return self
        try:
            return process.__dict__['_popen']
        except KeyError:
            raise AttributeError("'%s' object has no attribute '_popen'" % type(process).__name__)

    def __set__(self, process, popen):
        process.__dict__['_popen'] = popen
        if popen is not None:
            try:
                _report_start(process, popen)
            except Exception:  # this module's globals may be gone late in interpreter shutdown
                pass

    def __delete__(self, process):
        try:
            del process.__dict__['_popen']
        except KeyError:
            raise AttributeError('_popen')


class _ReturnCodeSlot(object):
    """`Popen.returncode`, kept in the instance dict as before; its first non-None value reports the exit.

    It has no __get__: a read finds the value in the instance dict at C speed (multiprocessing polls every child's at
    every start, in _cleanup()), and only a store runs Python. Every Popen stores it first thing in __init__.
    """

    def __set__(self, popen, value):
        state = popen.__dict__
        previous = state.get('returncode')
        state['returncode'] = value
        if previous is None and value is not None and '_procscope_pid' in state:
            try:
                _report_exit(state.pop('_procscope_pid'), value)
            except Exception:  # this module's globals may be gone late in interpreter shutdown
                pass

    def __delete__(self, popen):
        try:
            del popen.__dict__['returncode']
        except KeyError:
            raise AttributeError('returncode')


def _watch_returncode(cls):
    """Put the returncode slot on a Popen class (once); False if the class has its own `returncode` attribute."""
    for klass in cls.__mro__:
        existing = klass.__dict__.get('returncode')
        if existing is not None:
            return isinstance(existing, _ReturnCodeSlot)
    try:
        cls.returncode = _ReturnCodeSlot()
    except (TypeError, AttributeError):
        return False
    return True


def _patch_process(module):
    base = getattr(module, 'BaseProcess', None)
    if base is not None and '_popen' not in base.__dict__:
        base._popen = _PopenSlot()


# ---------------------------------------------------------------------------------------------------------------------
# Log records: util's log functions at or above our level are replaced by copies of themselves that report first (see
# _log_function_copy); below it they stay untouched. They log only when someone called get_logger(); that logger is
# the program's and is never touched here.

_reporting = set()  # ids of threads formatting a record: formatting may call the program's code, which may log again
_installed = []  # the functions put on util here


_PLAIN_TYPES = (str, int, float, bool, type(None))  # formatted without running any of the program's code


def _format(msg, args):
    """The message as logging's LogRecord.getMessage() makes it (a failure to format leaves it unformatted)."""
    message = str(msg)
    if args:
        if len(args) == 1 and args[0] and type(args[0]) not in _PLAIN_TYPES:
            from collections.abc import Mapping
            if isinstance(args[0], Mapping):
                args = args[0]
        try:
            message = message % args
        except Exception:
            pass
    return message


def _formatted(msg, args):
    """The record's message, or None when this thread is already formatting one (a __str__ that logs)."""
    if type(msg) is str and len(args) <= 4:
        for arg in args:
            if type(arg) not in _PLAIN_TYPES:
                break
        else:
            return _format(msg, args)  # no code of the program's runs: it cannot log again
    thread = _thread.get_ident()
    if thread in _reporting:
        return None
    _reporting.add(thread)
    try:
        return _format(msg, args)
    finally:
        _reporting.discard(thread)


def _log_head(util, current, name, pid, level, levelname):
    """A log line up to its message, or None where records are not reported (a helper process's own)."""
    if _HELPER_PID and _HELPER_PID == pid and isinstance(current, util.process._MainProcess):
        return None
    name = _clip(str(name or 'MainProcess'), MAX_NAME_CHARS)
    return '{"t":"log","pid":%d,"level":%d,"levelname":%s,"process":%s,"msg":' % (
        pid, level, _json_string(levelname), _json_string(name))


def _make_report(util, level, levelname):
    """What util's copy calls for each record at `level`: queue its line. Returns None and never raises.

    Kept lean (util.debug may be called in a tight loop): the line's head is cached per process and name, a message
    without arguments is never formatted, and records below INFO wait to be sent in a batch (see _record).
    """
    process = util.process
    now = level >= 20
    cache = [(None, None, 0, None)]  # (current process, its name, pid, head), replaced whole

    def report(msg, args):
        global _queued_bytes, _last_batch
        try:
            if args or type(msg) is not str:
                msg = _formatted(msg, args)
                if msg is None:
                    return
            current = process._current_process
            name = current._name
            pid = _pid
            known = cache[0]
            if current is not known[0] or name is not known[1] or pid != known[2]:
                known = cache[0] = (current, name, pid, _log_head(util, current, name, pid, level, levelname))
            head = known[3]
            if head is None:
                return
            if len(msg) <= SHORT_MESSAGE_CHARS and msg.isascii() and msg.isprintable() and '"' not in msg and '\\' not in msg:
                line = ('%s"%s"}\n' % (head, msg)).encode('ascii')  # _json_string's fast path, inline
            else:
                line = (head + _json_string(_clip(msg, MAX_MESSAGE_CHARS)) + '}\n').encode('ascii')
                if len(line) > MAX_LINE:
                    line = (head + _json_string(_clip(msg, SHORT_MESSAGE_CHARS)) + '}\n').encode('ascii')
            if now or util._exiting:
                _record(line, True)
                return
            # _record(line, False), inline: this is the path of every debug record
            if _disabled:
                return
            _queue.append(line)
            _queued_bytes += len(line)
            moment = _monotonic()
            if _queued_bytes >= FLUSH_BYTES or moment - _last_batch >= FLUSH_SECONDS:
                _last_batch = moment
                flush()
        except Exception:  # this module's globals may be gone late in interpreter shutdown
            pass

    return report


def _code_lines(code):
    """The source lines a code object's instructions are on."""
    if hasattr(code, 'co_lines'):  # 3.10+
        return set(line for _, _, line in code.co_lines() if line is not None)
    lines = set([code.co_firstlineno])
    line = code.co_firstlineno
    table = code.co_lnotab
    for index in range(1, len(table), 2):
        delta = table[index]
        line += delta - 0x100 if delta >= 0x80 else delta
        lines.add(line)
    return lines


def _log_function_copy(original, report):
    """util's log function compiled again with a report call in front, on the same lines of util.py; None if util's
    function is not the three lines it has always been (`if _logger:` / `_logger.log(LEVEL, msg, *args…)`).

    Nothing tells the copy from util's own: it is util.py's file, name and line numbers, and no frame of ours is ever
    below it, so tracebacks, the caller logging records (findCaller) and the stack logging prints for a record it
    cannot format ("--- Logging error ---") are the program's own.
    """
    code = original.__code__
    names = code.co_names
    first = code.co_firstlineno
    if (code.co_argcount != 1 or code.co_kwonlyargcount or code.co_varnames[:2] != ('msg', 'args')
            or not code.co_flags & 0x04 or code.co_freevars or len(names) != 3 or names[:2] != ('_logger', 'log')
            or first < 2 or _code_lines(code) - set([first]) != set([first + 1, first + 2])):
        return None
    consts = code.co_consts
    stacklevel = any(value == 'stacklevel' or (type(value) is tuple and 'stacklevel' in value) for value in consts)
    if stacklevel and 2 not in consts:
        return None
    source = '\n' * (first - 2) + (
        'def _procscope_copy(_procscope_report):\n'
        '    def %s(msg, *args):\n'
        '        if _procscope_report(msg, args) or _logger:\n'
        '            _logger.log(%s, msg, *args%s)\n'
        '    return %s\n'
    ) % (code.co_name, names[2], ', stacklevel=2' if stacklevel else '', code.co_name)
    module_code = compile(source, code.co_filename, 'exec', dont_inherit=True)
    factory_code = [value for value in module_code.co_consts if type(value) is type(code)][0]
    copy = type(original)(factory_code, original.__globals__)(report)
    if _code_lines(copy.__code__) != _code_lines(code):
        return None
    if hasattr(code, 'co_qualname'):  # 3.11+
        copy.__code__ = copy.__code__.replace(co_qualname=code.co_qualname)
    copy.__qualname__ = original.__qualname__
    copy.__doc__ = original.__doc__
    copy.__dict__.update(original.__dict__)
    return copy


def _replace_log_function(util, name, level, levelname):
    """Put a reporting copy of util.NAME in its place; returns (original, copy), or None."""
    original = getattr(util, name, None)
    if original is None or original in _installed or not 0 < _LEVEL <= level:
        return None
    report = _make_report(util, level, levelname)
    replacement = None
    if getattr(original, '__code__', None) is not None:
        try:
            replacement = _log_function_copy(original, report)
        except Exception:
            replacement = None
    if replacement is None:
        # An util this helper does not know: wrap it (a frame of ours then stands between the caller and util).
        def replacement(msg, *args):
            report(msg, args)
            return original(msg, *args)
        dress(replacement, original)
    _installed.append(replacement)
    setattr(util, name, replacement)
    return original, replacement


def _rebind_defaults(module, replacements):
    """util binds its log functions as default arguments (`_exit_function(info=info, ...)`, `Finalize.__call__`)."""
    functions = []
    for value in list(vars(module).values()):
        if isinstance(value, type) and value.__module__ == module.__name__:
            functions.extend(vars(value).values())
        else:
            functions.append(value)
    for function in functions:
        if getattr(function, '__module__', None) != module.__name__:
            continue
        defaults = getattr(function, '__defaults__', None)
        if defaults and any(value is original for value in defaults for original, _ in replacements):
            function.__defaults__ = tuple(_replacement(value, replacements) for value in defaults)
        kwdefaults = getattr(function, '__kwdefaults__', None)
        if kwdefaults:
            for key, value in list(kwdefaults.items()):
                kwdefaults[key] = _replacement(value, replacements)


def _replacement(value, replacements):
    for original, wrapper in replacements:
        if value is original:
            return wrapper
    return value


def _patch_util(module):
    replacements = []
    for name, level, levelname in LOG_FUNCTIONS:
        replaced = _replace_log_function(module, name, level, levelname)
        if replaced is not None:
            replacements.append(replaced)
    if replacements:
        _rebind_defaults(module, replacements)
    process = getattr(module, 'process', None)
    if process is not None:
        _patch_process(process)


def dress(wrapper, original):
    """Give a wrapper the name, module and docstring of what it wraps, and point __wrapped__ at it."""
    for attribute in ('__module__', '__name__', '__qualname__', '__doc__'):
        try:
            setattr(wrapper, attribute, getattr(original, attribute))
        except Exception:
            pass
    wrapper.__wrapped__ = original
    return wrapper


def patch(module):
    """Instrument multiprocessing.process, .util, .synchronize or .queues (idempotent)."""
    name = getattr(module, '__name__', None)
    if name == 'multiprocessing.process':
        _patch_process(module)
    elif name == 'multiprocessing.util':
        _patch_util(module)
    if name in ('multiprocessing.process', 'multiprocessing.synchronize', 'multiprocessing.queues'):
        try:
            from _procscope import boot
            boot.import_own('sync').patch(module)  # waits on synchronisation objects (sync.py)
        except Exception:
            pass
