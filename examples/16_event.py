# An Event signals between processes: two waiters block until the main program sets it.
# ProcScope shows each waiter as `waiting on Event (16_event.py:20)` (a watch icon) until the event is set.
import multiprocessing
import time


def wait_for_event(event, name):
    print(f'{name}: waiting', flush=True)
    event.wait()
    print(f'{name}: the event is set', flush=True)


def wait_with_timeout(event, name):
    print(f'{name}: waiting at most 0.5 s', flush=True)
    set_in_time = event.wait(0.5)
    print(f'{name}: event set within the timeout: {set_in_time}', flush=True)


if __name__ == '__main__':
    event = multiprocessing.Event()
    blocking = multiprocessing.Process(target=wait_for_event, args=(event, 'blocking'), name='blocking')
    patient = multiprocessing.Process(target=wait_with_timeout, args=(event, 'patient'), name='patient')
    blocking.start()
    patient.start()
    time.sleep(1.5)
    event.set()
    print('main: event set', flush=True)
    blocking.join()
    patient.join()
