# join() waits for a process to finish, so here even the daemon gets to print its last line.
import multiprocessing
import time


def slow():
    print('slow: begin', flush=True)
    time.sleep(1.5)
    print('slow: end', flush=True)


def quick():
    print('quick: begin', flush=True)
    print('quick: end', flush=True)


if __name__ == '__main__':
    daemon = multiprocessing.Process(target=slow, name='daemon', daemon=True)
    worker = multiprocessing.Process(target=quick, name='non-daemon')
    daemon.start()
    time.sleep(0.5)
    worker.start()
    daemon.join()
    worker.join()
    print('both joined')
