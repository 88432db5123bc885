# terminate() sends SIGTERM; join() afterwards lets the object see the exit: stopped[SIGTERM], exitcode -15.
import multiprocessing
import signal
import time


def busy():
    print('busy: begin', flush=True)
    time.sleep(5)
    print('busy: end', flush=True)


def summary(process):
    """The state as <Process(NAME, STATE)>, STATE being initial, started, stopped or stopped[SIGNAL]."""
    code = process.exitcode
    if code is None:
        state = 'initial' if process.pid is None else 'started'
    elif code < 0:
        state = 'stopped[{}]'.format(signal.Signals(-code).name)
    else:
        state = 'stopped' if code == 0 else 'stopped[exitcode {}]'.format(code)
    return '<Process({}, {})>'.format(process.name, state)


if __name__ == '__main__':
    process = multiprocessing.Process(target=busy)
    print('before start: ', summary(process), process.is_alive(), '|', process)
    process.start()
    time.sleep(0.2)
    print('running:      ', summary(process), process.is_alive(), '|', process)
    process.terminate()
    print('terminated:   ', summary(process), process.is_alive(), '|', process)
    process.join()
    print('joined:       ', summary(process), process.is_alive(), '|', process)
