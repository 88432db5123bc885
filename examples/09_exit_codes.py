# Five children, five endings: sys.exit(1) -> 1, falling off the end -> 0, a return value -> 0, an exception -> 1, terminate() -> -15.
import multiprocessing
import sys
import time


def exit_error():
    sys.exit(1)


def exit_ok():
    pass


def return_value():
    return 42  # ignored: only exit status counts


def raises():
    raise ValueError('something went wrong in the child')


def terminated():
    time.sleep(3)


if __name__ == '__main__':
    children = []
    for target in (exit_error, exit_ok, return_value, raises, terminated):
        print('starting', target.__name__, flush=True)
        child = multiprocessing.Process(target=target, name=target.__name__)
        child.start()
        children.append(child)
    children[-1].terminate()
    for child in children:
        child.join()
    for child in children:
        print('{:>14} exitcode {}'.format(child.name, child.exitcode))
