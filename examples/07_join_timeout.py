# join(timeout) gives up after the timeout without error: the process is simply still alive.
import multiprocessing
import time


def nap():
    time.sleep(2.5)


if __name__ == '__main__':
    daemon = multiprocessing.Process(target=nap, name='daemon', daemon=True)
    daemon.start()
    daemon.join(1.0)
    print('after join(1.0): is_alive() =', daemon.is_alive())
