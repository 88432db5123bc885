# A deadlock on purpose: two workers take the same two locks in opposite order, and each waits for the other forever.
# ProcScope logs, within a second of it forming:
#   [WARNING/MainProcess] deadlock: left waits on Lock (23_deadlock.py:22) held by right, which waits on Lock
#   (23_deadlock.py:21) held by left
# and marks both rows with a warning icon. The program ends them after three seconds.
import multiprocessing
import time


def take(first, second, name):
    with first:
        print(f'{name}: took my first lock', flush=True)
        time.sleep(0.3)
        print(f'{name}: waiting for my second lock', flush=True)
        with second:
            print(f'{name}: never printed', flush=True)


if __name__ == '__main__':
    # Two locks, taken in opposite orders.
    forks = multiprocessing.Lock()
    knives = multiprocessing.Lock()
    left = multiprocessing.Process(target=take, args=(forks, knives, 'left'), name='left')
    right = multiprocessing.Process(target=take, args=(knives, forks, 'right'), name='right')
    left.start()
    right.start()
    left.join(3)
    print('still waiting after 3 s:', left.is_alive(), right.is_alive(), flush=True)
    left.terminate()
    right.terminate()
