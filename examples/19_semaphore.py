# A Semaphore limits how many workers run at once: six workers, two at a time.
# ProcScope shows the four that wait their turn as `waiting on Semaphore (19_semaphore.py:16)`.
import multiprocessing
import time


def worker(slots, name):
    with slots:
        print(f'{name}: running', flush=True)
        time.sleep(0.4)
        print(f'{name}: done', flush=True)


if __name__ == '__main__':
    # Two workers at a time.
    slots = multiprocessing.Semaphore(2)
    workers = [multiprocessing.Process(target=worker, args=(slots, f'worker-{n}'), name=f'worker-{n}') for n in range(1, 7)]
    for process in workers:
        process.start()
    for process in workers:
        process.join()
