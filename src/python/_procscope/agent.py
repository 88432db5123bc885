# Reports every multiprocessing.Process (start, exit) and multiprocessing's log records to ProcScope over a local socket.
#
# Loaded by sitecustomize.py when multiprocessing.process or multiprocessing.util is first imported. It observes
# without wrapping the program's call paths where it can (data descriptors on `BaseProcess._popen` and
# `Popen.returncode`), so tracebacks, return values and timing stay the program's own. It never raises into the
# program: any failure to talk to the extension disables reporting for the rest of the process.
#
# Wire format (one JSON object per line, ASCII, each line at most MAX_LINE bytes including its newline):
#   {"t":"hello","token":T,"pid":P,"v":1}                       first line of every connection
#   {"t":"start","pid":C,"ppid":P,"name":N,"daemon":B,"method":"fork|spawn|forkserver","time":MS}
#   {"t":"exit","pid":C,"code":X}                                 as the parent observes it (-15 after terminate())
#   {"t":"log","pid":P,"level":L,"levelname":"INFO","process":N,"msg":M}

import os
import sys
import time
import _thread

PROTOCOL_VERSION = 1
MAX_LINE = 64 * 1024
MAX_NAME_CHARS = 1024
MAX_MESSAGE_CHARS = 16 * 1024
SHORT_MESSAGE_CHARS = 4 * 1024  # 12 bytes per char at worst once escaped, so this always fits in MAX_LINE
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
# The connection: one per process, opened on the first message, never shared across fork.

_lock = _thread.allocate_lock()
_connection = None
_connection_pid = 0
_disabled_pid = 0


class _PipeConnection(object):
    """A Windows named pipe opened as a file, with the socket methods used here."""

    def __init__(self, path):
        self.file = open(path, 'wb', buffering=0)

    def sendall(self, data):
        view = memoryview(data)
        while view:
            view = view[self.file.write(view):]

    def close(self):
        self.file.close()


def _connect(pid):
    hello = encode((('t', 'hello'), ('token', _TOKEN), ('pid', pid), ('v', PROTOCOL_VERSION)))
    if _PATH.startswith('\\\\'):
        connection = _PipeConnection(_PATH)
    else:
        # _socket, not socket: a program that monkeypatches socket (gevent, eventlet) must not see our traffic.
        import _socket
        connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        if hasattr(connection, 'settimeout'):
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
        connection.sendall(hello)
    except BaseException:
        connection.close()
        raise
    return connection


def _drop_connection():
    global _connection
    connection, _connection = _connection, None
    if connection is not None:
        try:
            connection.close()
        except Exception:
            pass


def send(line):
    """Write one encoded line to the extension; on any failure stop reporting from this process."""
    global _connection, _connection_pid, _disabled_pid
    pid = os.getpid()
    if _disabled_pid == pid or not _PATH:
        return
    lock = _lock
    # A timeout instead of blocking: a signal handler logging while this thread sends must not deadlock.
    if not lock.acquire(True, TIMEOUT):
        return
    try:
        if _connection is not None and _connection_pid != pid:
            _drop_connection()  # forked by something that skipped the at-fork hooks
        if _connection is None:
            _connection = _connect(pid)
            _connection_pid = pid
        _connection.sendall(line)
    except BaseException as error:
        _disabled_pid = pid
        _drop_connection()
        if not isinstance(error, Exception):
            raise
    finally:
        lock.release()


def _after_fork_in_child():
    global _lock, _disabled_pid
    try:
        _lock = _thread.allocate_lock()  # another thread may have held the old one at the fork
        _disabled_pid = 0
        _drop_connection()
    except Exception:  # this module's globals may be gone late in interpreter shutdown
        pass


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
    ('concurrent.futures.process', '_process_worker'): 'pool-worker',
    ('multiprocessing.pool', 'worker'): 'pool-worker',
    ('multiprocessing.managers', '_run_server'): 'manager',
}


def _role(process):
    target = getattr(process, '_target', None)
    key = (getattr(target, '__module__', None), getattr(target, '__name__', None))
    return _ROLE_TARGETS.get(key, '')


def _report_start(process, popen):
    try:
        pid = popen.pid
        send(encode((
            ('t', 'start'),
            ('pid', pid),
            ('ppid', os.getpid()),
            ('name', _clip(str(process.name), MAX_NAME_CHARS)),
            ('daemon', bool(process.daemon)),
            ('method', _start_method(process, popen)),
            ('time', time.time() * 1000.0),
            ('role', _role(process)),
        )))
        if _watch_returncode(type(popen)):
            returncode = popen.__dict__.get('returncode')
            if returncode is None:
                popen.__dict__['_procscope_pid'] = pid
            else:
                _report_exit(pid, returncode)
    except Exception:
        pass


def _report_exit(pid, returncode):
    try:
        send(encode((('t', 'exit'), ('pid', pid), ('code', int(returncode)))))
    except Exception:
        pass


class _PopenSlot(object):
    """`BaseProcess._popen`, kept in the instance dict as before; storing a Popen reports the start."""

    def __get__(self, process, owner=None):
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
    """`Popen.returncode`, kept in the instance dict as before; its first non-None value reports the exit."""

    def __get__(self, popen, owner=None):
        if popen is None:
            return self
        try:
            return popen.__dict__['returncode']
        except KeyError:
            raise AttributeError("'%s' object has no attribute 'returncode'" % type(popen).__name__)

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
# Log records: util's sub_debug/debug/info/sub_warning report at our level, then do exactly what they did.
# They log only when someone called get_logger(); that logger is the program's and is never touched here.

_reporting = set()  # ids of threads inside _report_log: formatting a record may log again


def _format(msg, args):
    message = str(msg)
    if args:
        if len(args) == 1 and args[0]:
            from collections.abc import Mapping
            if isinstance(args[0], Mapping):
                args = args[0]
        try:
            message = message % args
        except Exception:
            pass
    return message


def _report_log(util, level, levelname, msg, args):
    try:
        thread = _thread.get_ident()
        if thread in _reporting:
            return
        _reporting.add(thread)
    except Exception:  # this module's globals may be gone late in interpreter shutdown
        return
    try:
        current = util.process.current_process()
        if _HELPER_PID and _HELPER_PID == os.getpid() and isinstance(current, util.process._MainProcess):
            return
        name = getattr(current, 'name', None) or 'MainProcess'
        message = _format(msg, args)
        fields = [('t', 'log'), ('pid', os.getpid()), ('level', level), ('levelname', levelname),
                  ('process', _clip(str(name), MAX_NAME_CHARS)), ('msg', _clip(message, MAX_MESSAGE_CHARS))]
        line = encode(fields)
        if len(line) > MAX_LINE:
            fields[-1] = ('msg', _clip(message, SHORT_MESSAGE_CHARS))
            line = encode(fields)
        send(line)
    except Exception:
        pass
    finally:
        try:
            _reporting.discard(thread)
        except Exception:
            pass


def _wrap_log_function(util, name, level, levelname):
    """Replace util.NAME with a reporting wrapper; returns (original, wrapper), or None."""
    original = getattr(util, name, None)
    if original is None or getattr(original, '_procscope_wraps', None) is not None:
        return None
    # Closures only, no module globals: util calls these from finalizers, maybe after this module was torn down.
    report = _report_log if 0 < _LEVEL <= level else None
    code = getattr(original, '__code__', None)
    if code is not None and 'stacklevel' in code.co_consts:
        # 3.13+ passes stacklevel=2 so records name util's caller. Calling it from here would name this wrapper
        # instead, so do what it does, from the frame that now stands where it stood.
        def wrapper(msg, *args):
            if report is not None:
                report(util, level, levelname, msg, args)
            logger = util._logger
            if logger:
                logger.log(level, msg, *args, stacklevel=2)
    else:
        def wrapper(msg, *args):
            if report is not None:
                report(util, level, levelname, msg, args)
            return original(msg, *args)
    for attribute in ('__module__', '__name__', '__qualname__', '__doc__'):
        try:
            setattr(wrapper, attribute, getattr(original, attribute))
        except Exception:
            pass
    wrapper.__wrapped__ = original
    wrapper._procscope_wraps = original
    setattr(util, name, wrapper)
    return original, wrapper


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
        wrapped = _wrap_log_function(module, name, level, levelname)
        if wrapped is not None:
            replacements.append(wrapped)
    if replacements:
        _rebind_defaults(module, replacements)
    process = getattr(module, 'process', None)
    if process is not None:
        _patch_process(process)


def patch(module):
    """Instrument multiprocessing.process, .util, .synchronize or .queues (idempotent)."""
    name = getattr(module, '__name__', None)
    if name == 'multiprocessing.process':
        _patch_process(module)
    elif name == 'multiprocessing.util':
        _patch_util(module)
    if name in ('multiprocessing.process', 'multiprocessing.synchronize', 'multiprocessing.queues'):
        try:
            from _procscope import sync  # waits on synchronisation objects (sync.py)
            sync.patch(module)
        except Exception:
            pass
