# A Lock around a shared resource: three workers take turns printing; each holds the lock for a moment.
# ProcScope shows the workers not holding it as `waiting on Lock (17_lock.py:17) held by worker-N` while one prints.
import multiprocessing
import time


def report(lock, name):
    for round_number in range(2):
        with lock:
            print(f'{name}: round {round_number}, the lock is mine', flush=True)
            time.sleep(0.3)
            print(f'{name}: round {round_number}, releasing', flush=True)
        time.sleep(0.05)


if __name__ == '__main__':
    lock = multiprocessing.Lock()
    workers = [multiprocessing.Process(target=report, args=(lock, f'worker-{n}'), name=f'worker-{n}') for n in range(1, 4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
